"""«Входящие выписки»: the signed extracts colleagues sent to the doctor."""
