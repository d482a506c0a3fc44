"""aiogram-dialog flows, one package per flow (states, dialog, getters, handlers).

Routers are built anew for each dispatcher (a router can belong to one parent only).
"""

from aiogram import Router


def build_router() -> Router:
    from dialogs.booking.book.dialog import build_dialog as book_dialog
    from dialogs.booking.offer.dialog import build_dialog as offer_dialog
    from dialogs.booking.visits.dialog import build_dialog as visits_dialog
    from dialogs.chat.ask.dialog import build_dialog as ask_dialog
    from dialogs.chat.doctor.dialog import build_dialog as questions_dialog
    from dialogs.chat.mine.dialog import build_dialog as mine_dialog
    from dialogs.clinic.cabinet.dialog import build_dialog as cabinet_dialog
    from dialogs.clinic.card.dialog import build_dialog as doctor_actions_dialog
    from dialogs.clinic.inbox.dialog import build_dialog as colleague_inbox_dialog
    from dialogs.core.guard import protect
    from dialogs.core.journal.dialog import build_dialog as journal_dialog
    from dialogs.core.otp.dialog import build_dialog as otp_dialog
    from dialogs.enrolment.application.dialog import build_dialog as application_dialog
    from dialogs.enrolment.documents.dialog import build_dialog as documents_dialog
    from dialogs.enrolment.status.dialog import build_dialog as status_dialog
    from dialogs.identity.password.dialog import build_dialog as password_dialog
    from dialogs.identity.recovery.dialog import build_dialog as recovery_dialog
    from dialogs.identity.signin.dialog import build_dialog as signin_dialog
    from dialogs.menu.dialog import build_dialog as menu_dialog
    from dialogs.record.card.dialog import build_dialog as record_dialog
    from dialogs.record.extracts.dialog import build_dialog as extracts_dialog
    from dialogs.record.labs.dialog import build_dialog as labs_dialog
    from dialogs.sharing.accept.dialog import build_dialog as accept_dialog
    from dialogs.sharing.access.dialog import build_dialog as sharing_dialog
    from dialogs.sharing.cards.dialog import build_dialog as cards_dialog

    router = Router(name="dialogs")
    router.include_routers(
        signin_dialog(),
        otp_dialog(),
        recovery_dialog(),
        menu_dialog(),
        journal_dialog(),
        password_dialog(),
        application_dialog(),
        documents_dialog(),
        status_dialog(),
        record_dialog(),
        labs_dialog(),
        extracts_dialog(),
        sharing_dialog(),
        accept_dialog(),
        cards_dialog(),
        book_dialog(),
        visits_dialog(),
        offer_dialog(),
        cabinet_dialog(),
        doctor_actions_dialog(),
        colleague_inbox_dialog(),
        ask_dialog(),
        mine_dialog(),
        questions_dialog(),
    )
    from dialogs.core.card import protect_cards

    return protect_cards(protect(router))
