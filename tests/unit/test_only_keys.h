/* TEST KEYS ONLY. Generated for forumnet unit tests with `openssl genrsa 2048` and
 * `openssl ecparam -name prime256v1 -genkey -noout`; they protect nothing and must never
 * be used outside tests/unit. Embedded so that the tests need no openssl binary at run time. */
#ifndef FORUMNET_TEST_ONLY_KEYS_H
#define FORUMNET_TEST_ONLY_KEYS_H

// clang-format off
static const char TEST_ONLY_RSA_PRIVATE_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCwHFXXlTUBjnUC\n"
    "tKiXSGiyVeqe9mYeEMBmDAtcT4hvgiBX6E6c/MakkjL+pgjgDXB3cCps+bS40MNn\n"
    "+7DOeMR0t9ZLIuTlkkhZYBCx33Qe17utfgpb69kUq0g6qQzYElM/jsc27xkvFYs3\n"
    "NWkBsXdLe4ucwn1jzKrN6fQ3S2i0sShpfGKosxMIe3vO+21AI9EqRQTE/oQtzVuO\n"
    "B9QQSH478mgSfk4ooJOGsmT0mrdaMlAMlzQu+HYI93Ms7T6DH59NL9eqxYKyQ+kQ\n"
    "Lvxv/VebkmE1i856u+4LfuP4QGU9uYHxNNKUF9YuJEpaXFR2yA9NfbKxGZMkpOhd\n"
    "SahcoYAHAgMBAAECggEABghidGkbELuVjIstv0jutTU2PU3Jf7wpKxW8ieP7k35M\n"
    "p1ZA4yXRlC+h6ZE8ephbQuwnt+Xx5+bW2sgHbXs7l5f4kkhWuPqC2fTtfXpfGvNe\n"
    "7XmE11ND825OohvKYdh225WDg4E7Rp6hTznYKAOxR3eq96q96t5G95jNEdvWcWIV\n"
    "jmyS31/YlZixzmB6X63L+OCISUYmtqqgfyL8vQPYCCgcavAATffwT+U11egU6X+j\n"
    "1C5Zrfn4KFAq0d5OGhOtKVe9Rp3rIUiZ0kFyD3TRWMDv3cYBzLHOAmgc/5i1SD/n\n"
    "1Mn+LqzoN4xofeVtANSN9LQfF9WPcUV9lLI/+YSCSQKBgQDvYV4OxVikaNEEqhCk\n"
    "eqpnZdSMakwn6yC+l1lnuCWnU+caBrBBoVgel2yYPKDaEOZWt4mNwB/fIjDnokIg\n"
    "+J/sg0ZkReW6R01v4af7DhbsBOFnn9OTXUYoueSuuGHXpsn2vs/aXIjx5yrfmIS7\n"
    "Om+8N1cLBjVKDNY75FXmuZNF+wKBgQC8VnFsLsKMG3jQ4OwRKc1hQI/PYdSvaPMu\n"
    "CciM9PoCzvDl7hvnlfce3Ct9OcDBZYN4RPRZ4XzHclANMOlhO2Lvc3zSkcfATG7g\n"
    "2jpXJSKmtKYvcMm586fdPb840Urlgy/ZHW7HkEOktb3GLO1Gpd/RZ1UWvS0esU0J\n"
    "gCfKyTNsZQKBgQChBllUDFJdfhikT5YUXmOEXE6HCfYioBsNuhetGoVRsrHxovAr\n"
    "pdH1+hxVp+r35Yhcauf/z25hFcnZ9x8OuNAzM/dE+nPXQ6GGkkACNG8c4weRQkT7\n"
    "izHnsWxwT52ZiBuxfJerJrYEK2F+uUUIAP4qmPtXchykrE/sR+O06b50wwKBgHVb\n"
    "FAAKPxXYxHa7wL2NI7n25eWem03WArnsRLh4qhT36CoOLfsnej4TiVHVm+Omor5d\n"
    "kTk0hXEuLO2bTcFVpPd6Kgx35FVSC0E3GmVU8XuZU3h6OmkRh8cXg8EewSG0lise\n"
    "6PmXTl8jFCaZthxwnb+5OM8bgDMA3fUOkz0MFGv1AoGBAInwXvKH+O9OXnrRCj1O\n"
    "+0HjXiPcSIivAIUxzATL4MO5NcGRs/wPSmP3oIfI6As8i6a/nXl02VI+oUo5Hkvu\n"
    "RUfXwSJXw3R1sSzA4Xd/zuzo37DUqnjHE9dDfLNFEl9YwGCD5MGo68I4niJrp4U3\n"
    "cMxZl870sKarAlyvCbbv3vo+\n"
    "-----END PRIVATE KEY-----\n"
    ;

static const char TEST_ONLY_RSA_PUBLIC_KEY_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsBxV15U1AY51ArSol0ho\n"
    "slXqnvZmHhDAZgwLXE+Ib4IgV+hOnPzGpJIy/qYI4A1wd3AqbPm0uNDDZ/uwznjE\n"
    "dLfWSyLk5ZJIWWAQsd90Hte7rX4KW+vZFKtIOqkM2BJTP47HNu8ZLxWLNzVpAbF3\n"
    "S3uLnMJ9Y8yqzen0N0totLEoaXxiqLMTCHt7zvttQCPRKkUExP6ELc1bjgfUEEh+\n"
    "O/JoEn5OKKCThrJk9Jq3WjJQDJc0Lvh2CPdzLO0+gx+fTS/XqsWCskPpEC78b/1X\n"
    "m5JhNYvOervuC37j+EBlPbmB8TTSlBfWLiRKWlxUdsgPTX2ysRmTJKToXUmoXKGA\n"
    "BwIDAQAB\n"
    "-----END PUBLIC KEY-----\n"
    ;

static const char TEST_ONLY_EC_PRIVATE_KEY_PEM[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIMPLgIDWSs3gnKlTuXFnQEICJbu2H65T5z5qsQEEigjboAoGCCqGSM49\n"
    "AwEHoUQDQgAEnidPQeVifGaUKNPdm3SaZbuGE2tLRycTR3vBxnkl82DoIfeOPlp4\n"
    "JoIHx1yozwpgOoP266Eq8tGXY1TgpiDX8g==\n"
    "-----END EC PRIVATE KEY-----\n"
    ;

static const char TEST_ONLY_EC_PUBLIC_KEY_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnidPQeVifGaUKNPdm3SaZbuGE2tL\n"
    "RycTR3vBxnkl82DoIfeOPlp4JoIHx1yozwpgOoP266Eq8tGXY1TgpiDX8g==\n"
    "-----END PUBLIC KEY-----\n"
    ;

// clang-format on

#endif
