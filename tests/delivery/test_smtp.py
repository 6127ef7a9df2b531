"""`martops.delivery.smtp` against a real SMTP server on 127.0.0.1 (aiosmtpd): plain, STARTTLS and
TLS with a login, and every refusal classified as temporary or permanent with the password never
shown."""

from __future__ import annotations

import logging
import socket
from email.message import EmailMessage

import pytest

from martops.config import ProjectConfig, load_config
from martops.delivery.smtp import SmtpSettings, address, message_id_for, send
from martops.errors import ConfigError, DeliveryError
from tests.smtp_server import PASSWORD, USER, free_port, self_signed, smtp_server

ENV = "MARTOPS_TEST_SMTP_PASSWORD"
# the test server's ssl listener is TLS from the first byte, which aiosmtpd's AUTH check does not count
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def settings(port: int, **extra) -> SmtpSettings:
    return SmtpSettings.model_validate({"host": "127.0.0.1", "port": port, "tls": "none",
                                        "from": "Reports <reports@example.com>", "timeout_seconds": 5, **extra})


def message(to=("a@example.com",), **headers) -> EmailMessage:
    m = EmailMessage()
    m["Subject"] = "Weekly report 2023-W36"
    m["To"] = ", ".join(to)
    for k, v in headers.items():
        m[k] = v
    m.set_content("figures")
    return m


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    made = self_signed(tmp_path_factory.mktemp("smtp-cert"))
    if made is None:
        pytest.skip("openssl is not installed (needed to make the test server's certificate)")
    return made


def test_a_message_is_delivered_with_the_given_id_and_envelope():
    with smtp_server() as (server, port):
        sent = send(message(("a@example.com", "b@example.com"), Bcc="c@example.com"), settings(port),
                    message_id="report-2023-W36@example.com")
    assert sent.recipients == ["a@example.com", "b@example.com", "c@example.com"]
    assert sent.message_id == "<report-2023-W36@example.com>" and sent.server == f"127.0.0.1:{port}"
    got, = server.received
    assert got.sender == "reports@example.com" and got.recipients == sent.recipients
    m = got.message
    assert m["Message-ID"] == "<report-2023-W36@example.com>" and m["From"] == "Reports <reports@example.com>"
    assert m["Date"] and m["Bcc"] is None and m.get_content().strip() == "figures"


def test_a_caller_given_id_replaces_the_one_the_message_had():
    m = message()
    m["Message-ID"] = "<old@example.com>"
    with smtp_server() as (server, port):
        send(m, settings(port), message_id="<new@example.com>")
    assert server.received[0].message.get_all("Message-ID") == ["<new@example.com>"]


def test_message_id_for_is_stable_per_key():
    a = message_id_for("weekly/2023-W36/a@example.com", "Reports <reports@example.com>")
    assert a == message_id_for("weekly/2023-W36/a@example.com", "reports@example.com")
    assert a != message_id_for("weekly/2023-W37/a@example.com", "reports@example.com")
    assert a.startswith("<") and a.endswith("@example.com>")


def test_starttls_with_login(cert, monkeypatch, caplog):
    monkeypatch.setenv(ENV, PASSWORD)
    caplog.set_level(logging.DEBUG)
    with smtp_server(login=True, tls="starttls", cert=cert) as (server, port):
        s = settings(port, tls="starttls", user=USER, password_env=ENV, ca_file=str(cert[0]))
        send(message(), s, message_id="x1@example.com")
    assert server.logins == [USER] and len(server.received) == 1
    assert PASSWORD not in caplog.text


def test_ssl_from_the_first_byte_with_login(cert, monkeypatch):
    monkeypatch.setenv(ENV, PASSWORD)
    with smtp_server(login=True, tls="ssl", cert=cert) as (server, port):
        send(message(), settings(port, tls="ssl", user=USER, password_env=ENV, ca_file=str(cert[0])),
             message_id="x2@example.com")
    assert server.logins == [USER] and len(server.received) == 1


def test_a_wrong_password_is_permanent_and_never_shown(cert, monkeypatch, caplog):
    monkeypatch.setenv(ENV, "wrong-pw-Zt81")
    caplog.set_level(logging.DEBUG)
    with smtp_server(login=True, tls="starttls", cert=cert) as (server, port):
        with pytest.raises(DeliveryError) as err:
            send(message(), settings(port, tls="starttls", user=USER, password_env=ENV, ca_file=str(cert[0])),
                 message_id="x3@example.com")
    e = err.value
    assert not e.temporary and e.code == 535 and f"login as {USER} refused (535" in str(e) and ENV in str(e)
    assert "wrong-pw-Zt81" not in str(e) and "wrong-pw-Zt81" not in caplog.text and server.received == []


def test_an_untrusted_certificate_is_permanent(cert, monkeypatch):
    monkeypatch.setenv(ENV, PASSWORD)
    with smtp_server(login=True, tls="starttls", cert=cert) as (server, port):
        with pytest.raises(DeliveryError) as err:
            send(message(), settings(port, tls="starttls", user=USER, password_env=ENV), message_id="x4@example.com")
    assert not err.value.temporary and "certificate is not trusted" in str(err.value) and "smtp.ca_file" in str(err.value)
    assert server.received == [] and server.logins == []


def test_starttls_asked_of_a_server_without_it_is_permanent():
    with smtp_server() as (server, port):
        with pytest.raises(DeliveryError) as err:
            send(message(), settings(port, tls="starttls"), message_id="x5@example.com")
    assert not err.value.temporary and "STARTTLS" in str(err.value) and "smtp.tls" in str(err.value)


def test_a_4xx_reply_is_temporary_and_a_5xx_permanent():
    with smtp_server() as (server, port):
        server.data_reply = "451 4.3.0 Mailbox busy, try later"
        with pytest.raises(DeliveryError) as err:
            send(message(), settings(port), message_id="x6@example.com")
        assert err.value.temporary and err.value.code == 451 and "temporary failure" in str(err.value)
        assert "451 4.3.0 Mailbox busy" in str(err.value)
        server.data_reply = "554 5.6.0 Message rejected"
        with pytest.raises(DeliveryError) as err:
            send(message(), settings(port), message_id="x7@example.com")
        assert not err.value.temporary and err.value.code == 554 and "refused (554" in str(err.value)
    assert server.received == []


def test_refused_recipients_are_named_and_the_accepted_ones_said():
    with smtp_server() as (server, port):
        server.refuse_rcpt = {"gone@example.com": "550 5.1.1 No such user", "full@example.com": "452 4.2.2 Over quota"}
        with pytest.raises(DeliveryError) as err:
            send(message(("gone@example.com",)), settings(port), message_id="x8@example.com")
        assert not err.value.temporary and err.value.code == 550 and "gone@example.com: 550 5.1.1 No such user" in str(err.value)
        with pytest.raises(DeliveryError) as err:
            send(message(("a@example.com", "full@example.com")), settings(port), message_id="x9@example.com")
    e = err.value
    assert e.temporary and e.accepted == ["a@example.com"] and list(e.refused) == ["full@example.com"]
    assert "sent to a@example.com, but 1 recipient(s) refused" in str(e)
    assert [r.recipients for r in server.received] == [["a@example.com"]]


def test_connection_refused_is_temporary():
    with pytest.raises(DeliveryError) as err:
        send(message(), settings(free_port()), message_id="y1@example.com")
    assert err.value.temporary and "connection refused" in str(err.value)


def test_a_server_that_never_greets_times_out_as_temporary():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel completes the handshake; nobody ever says 220
        with pytest.raises(DeliveryError) as err:
            send(message(), settings(silent.getsockname()[1], timeout_seconds=0.5), message_id="y2@example.com")
    assert err.value.temporary and "no answer within 0.5 s" in str(err.value)


def test_an_unset_password_variable_is_named_before_connecting(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with smtp_server() as (server, port):
        with pytest.raises(ConfigError, match=f"environment variable {ENV} is not set"):
            send(message(), settings(port, user=USER, password_env=ENV), message_id="y3@example.com")
    assert server.received == []


@pytest.mark.parametrize("bad", ["y4", "<a b@example.com>", "<x@y@z>"])
def test_a_malformed_message_id_is_refused(bad):
    with pytest.raises(ConfigError, match="expected <unique-part@domain>"):
        send(message(), settings(1), message_id=bad)


def test_a_message_without_recipients_is_refused():
    m = EmailMessage()
    m.set_content("x")
    with pytest.raises(ConfigError, match="no recipients"):
        send(m, settings(1), message_id="y5@example.com")


@pytest.mark.parametrize("text, ok", [
    ("a@example.com", "a@example.com"), (" Reports <a@example.com> ", "Reports <a@example.com>"),
    ("a@example", None), ("a@b@example.com", None), ("a@example.com, b@example.com", None), ("nobody", None),
    ("a b@example.com", None), ("", None),
])
def test_address(text, ok):
    if ok:
        assert address(text) == ok
    else:
        with pytest.raises(ValueError, match="mail address"):
            address(text)


SMTP_OK = "smtp:\n  host: smtp.example.com\n  from: reports@example.com\n"


@pytest.mark.parametrize("block, expected", [
    ("  password: hunter2-secret\n", "smtp: password: the password never goes in the project file"),
    ("  user: a@example.com\n  password_env: hunter2 secret!\n", "smtp.password_env: must be the NAME of an environment"),
    ("  user: a@example.com\n", "user and password_env go together"),
    ("  tls: none\n  user: a@example.com\n  password_env: PW\n", "tls: none would send the password unencrypted"),
    ("  port: true\n", "smtp.port: Input should be a valid integer"),
    ("  port: 70000\n", "smtp.port: Input should be less than or equal to 65535"),
    ("  tls: yes\n", "smtp.tls: Input should be 'none', 'starttls' or 'ssl'"),
    ("  timeout: 5\n", "smtp.timeout: Extra inputs are not permitted"),
    ("  timeout_seconds: 0\n", "smtp.timeout_seconds: Input should be greater than 0"),
])
def test_settings_errors_name_the_key(tmp_path, block, expected):
    f = tmp_path / "martops.yml"
    f.write_text(SMTP_OK + block)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    msg = str(err.value)
    assert expected in msg and "hunter2" not in msg


@pytest.mark.parametrize("yml, expected", [
    ("smtp:\n  host: https://smtp.example.com\n  from: a@example.com\n", "smtp.host: must be a server name"),
    ("smtp:\n  host: smtp.example.com\n  from: reports\n", "smtp.from: 'reports' is not one mail address"),
    ("smtp:\n  host: smtp.example.com\n", "smtp.from: Field required"),
    ("smtp:\n  from: a@example.com\n", "smtp.host: Field required"),
])
def test_host_and_from_are_checked(tmp_path, yml, expected):
    f = tmp_path / "martops.yml"
    f.write_text(yml)
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        load_config(f)


def test_settings_from_the_project_file(tmp_path):
    f = tmp_path / "martops.yml"
    f.write_text(SMTP_OK + "  tls: ssl\n  user: a@example.com\n  password_env: PW\n")
    s = load_config(f).smtp
    assert s.effective_port == 465 and s.server == "smtp.example.com:465" and s.sender == "reports@example.com"
    assert ProjectConfig().smtp is None  # no block: nothing is mailed
    f.write_text("smtp:\n  host: 127.0.0.1\n  tls: none\n  user: a@example.com\n  password_env: PW\n"
                 "  from: a@example.com\n")
    assert load_config(f).smtp.effective_port == 25  # a login in clear is allowed to a server on this machine


def test_a_missing_ca_file_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="smtp.ca_file: .*does not exist"):
        send(message(), settings(1, tls="starttls", ca_file=str(tmp_path / "nope.pem")), message_id="z@example.com")
