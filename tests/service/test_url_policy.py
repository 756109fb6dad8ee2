import pytest
from annolake_service.domain.url_policy import UrlRefused, check_addresses, check_url


@pytest.mark.parametrize(
    "url, words",
    [
        ("ftp://example.com/a.jpg", "only http"),
        ("/etc/passwd", "only http"),
        ("http:///x", "no host"),
        ("https://user:pw@example.com/a.jpg", "credentials"),
    ],
)
def test_urls_that_are_refused_outright(url, words):
    with pytest.raises(UrlRefused, match=words):
        check_url(url)


def test_accepted_url():
    assert check_url("https://images.example.com/cat.jpg?x=1") == ("https", "images.example.com")


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "::1", "fd00::1", "0.0.0.0", "224.0.0.1"],
)
def test_private_loopback_link_local_and_multicast_addresses_are_refused(address):
    with pytest.raises(UrlRefused, match="only public hosts"):
        check_addresses("h", [address], allow_private=False)


def test_public_addresses_pass_and_local_stage_may_allow_private():
    check_addresses("h", ["93.184.216.34", "2606:2800:220:1::1"], allow_private=False)
    check_addresses("h", ["127.0.0.1"], allow_private=True)
    with pytest.raises(UrlRefused):  # one bad address among good ones is enough to refuse
        check_addresses("h", ["93.184.216.34", "10.0.0.1"], allow_private=False)
