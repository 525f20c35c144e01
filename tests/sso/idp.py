"""A reseller platform's SAML IdP, built with pysaml2 (signing through the xmlsec1 command),
for Tiergate's end-to-end SSO tests.

    idp.py --dir DIR --entity ID --sso URL metadata
        prints this IdP's metadata (for Tiergate's registration)
    idp.py --dir DIR --entity ID --sso URL respond --user NAME [--query QUERY]
        with --query (the query of Tiergate's redirect): verifies Tiergate's signed
        AuthnRequest against Tiergate's SP metadata and answers it; without: an IdP-initiated
        login. Prints the base64 SAMLResponse.

DIR holds key.pem, cert.pem and sp.xml (Tiergate's SP metadata).
"""

import argparse
import base64
import os
import shutil
import sys
from urllib.parse import parse_qs

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NAME_FORMAT_BASIC, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256


def config(d, entity, sso, with_sp=True):
    c = {
        "entityid": entity,
        "service": {
            "idp": {
                "endpoints": {"single_sign_on_service": [(sso, BINDING_HTTP_REDIRECT)]},
                "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                "want_authn_requests_signed": True,
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 5},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_BASIC,
                    }
                },
            }
        },
        "key_file": os.path.join(d, "key.pem"),
        "cert_file": os.path.join(d, "cert.pem"),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
    }
    if with_sp:
        c["metadata"] = {"local": [os.path.join(d, "sp.xml")]}
    conf = IdPConfig()
    conf.load(c)
    return conf


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--entity", required=True)
    p.add_argument("--sso", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("metadata")
    r = sub.add_parser("respond")
    r.add_argument("--user", required=True)
    r.add_argument("--query")
    a = p.parse_args()

    if a.cmd == "metadata":
        conf = config(a.dir, a.entity, a.sso, with_sp=False)
        sys.stdout.write(create_metadata_string(None, config=conf, sign=False).decode())
        return

    server = Server(config=config(a.dir, a.entity, a.sso))
    sp_entity = next(iter(server.metadata.keys()))
    name_id = NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=a.user)
    identity = {"mail": [a.user]}
    if a.query:
        q = {k: v[0] for k, v in parse_qs(a.query).items()}
        req = server.parse_authn_request(
            q["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=q.get("RelayState"),
            sigalg=q.get("SigAlg"),
            signature=q.get("Signature"),
        )
        args = server.response_args(req.message, [BINDING_HTTP_POST])
        args.pop("binding", None)
    else:
        acs = server.metadata.assertion_consumer_service(sp_entity, BINDING_HTTP_POST)[0]["location"]
        args = {"in_response_to": None, "destination": acs, "sp_entity_id": sp_entity}
    resp = server.create_authn_response(
        identity,
        userid=a.user,
        name_id=name_id,
        sign_assertion=True,
        sign_response=False,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
        **args,
    )
    sys.stdout.write(base64.b64encode(str(resp).encode()).decode())


if __name__ == "__main__":
    main()
