"""Schemathesis hook: signs every request with a Tiergate credential, as the vendor's SDK signs.

Loaded with SCHEMATHESIS_HOOKS=schemathesis_sign (this folder on PYTHONPATH); the credential
comes from TIERGATE_AK and TIERGATE_SK. The signature is made with the SDK's own signer over
the request exactly as it is sent (requests' prepared request: final URL, final body bytes),
so the gateway verifies what the SDK would have signed.
"""
import os
from urllib.parse import unquote, urlsplit

import requests
import schemathesis
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer


def query_pairs(query):
    # Decoded as the gateway decodes (percent escapes only: `+` is a plus sign).
    pairs = (p.partition("=") for p in query.split("&") if p)
    return [(unquote(k), unquote(v)) for k, _, v in pairs]


class SdkSignature(requests.auth.AuthBase):
    def __init__(self, ak, sk):
        self.signer = Signer(GlobalCredentials(ak, sk))

    def __call__(self, r):
        url = urlsplit(r.url)
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {"Host": url.netloc}
        if r.headers.get("Content-Type"):
            headers["Content-Type"] = r.headers["Content-Type"]
        sdk = SdkRequest(method=r.method, schema=url.scheme, host=url.netloc,
                         resource_path=url.path,
                         query_params=query_pairs(url.query),
                         header_params=headers, body=body)
        self.signer.sign(sdk)
        # Everything the signer added: the date, the signature, and for a body that is not
        # JSON the SDK's `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`.
        for name, value in sdk.header_params.items():
            if name != "Host":
                r.headers[name] = value
        return r


SIGNATURE = SdkSignature(os.environ["TIERGATE_AK"], os.environ["TIERGATE_SK"])


@schemathesis.hook
def before_call(context, case, kwargs):
    kwargs["auth"] = SIGNATURE
