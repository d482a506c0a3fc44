"""Sharing a card with relatives: invitations, levels of access, revocations."""
