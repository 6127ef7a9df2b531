"""Getting outputs to people: e-mail over SMTP (`smtp`), for the weekly report and any workflow
that mails. Like every lower layer, nothing here imports a domain (tests/test_layers.py).
"""
