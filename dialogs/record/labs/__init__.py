"""«Результаты анализов»: the list (paged, filtered by test), one result, «Динамика»."""
