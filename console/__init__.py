"""The operator console: counsellors of one helpline see its queue, claim, chat and close."""
