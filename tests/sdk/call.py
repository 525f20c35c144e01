"""Runs partner API calls with the vendor's own Python SDK, for Tiergate's end-to-end tests.

Reads a JSON list of calls on stdin, prints a JSON list of results on stdout. Each call:
  {"endpoint": "http://127.0.0.1:PORT", "ak": "...", "sk": "...", "domain_id": "...",
   "request": "CreatePartnerCouponsRequest", "body_class": "CreatePartnerCouponsReq",
   "body": {...} | "params": {...}, "headers": {...} (optional)}
Amount fields are given as strings and sent as decimals, exactly as SDK users do.
"""
import decimal
import json
import re
import sys

from huaweicloudsdkbss import v2
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_config import HttpConfig

MONEY = {"amount", "face_value", "quota_amount"}


def decimals(d):
    return {k: decimal.Decimal(v) if k in MONEY and isinstance(v, str) else v for k, v in d.items()}


def client(call):
    cfg = HttpConfig.get_default_config()
    cfg.retry_times = 0
    cfg.timeout = (5, 30)
    creds = GlobalCredentials(call["ak"], call["sk"], call["domain_id"])
    return (v2.BssClient.new_builder().with_credentials(creds)
            .with_endpoint(call["endpoint"]).with_http_config(cfg).build())


def run(call):
    req_cls = getattr(v2, call["request"])
    if "body_class" in call:
        req = req_cls(body=getattr(v2, call["body_class"])(**decimals(call.get("body", {}))))
    else:
        req = req_cls(**call.get("params", {}))
    method = re.sub(r"(?<!^)(?=[A-Z])", "_", call["request"][: -len("Request")]).lower()
    try:
        c = client(call)
        if call.get("headers"):
            # The SDK's invoker carries extra headers (an idempotency key, a request id).
            invoker = getattr(c, method + "_invoker")(req)
            for k, v in call["headers"].items():
                invoker = invoker.add_header(k, v)
            resp = invoker.invoke()
        else:
            resp = getattr(c, method)(req)
        return {"ok": True, "status": resp.status_code, "body": resp.to_dict()}
    except exceptions.ClientRequestException as e:
        return {"ok": False, "status": e.status_code, "error_code": e.error_code,
                "error_msg": e.error_msg, "request_id": e.request_id}
    except exceptions.ServerResponseException as e:
        return {"ok": False, "status": e.status_code, "error_code": e.error_code,
                "error_msg": e.error_msg, "request_id": e.request_id}
    except exceptions.SdkException as e:
        return {"ok": False, "status": 0, "error_code": "SDK", "error_msg": str(e)}


if __name__ == "__main__":
    print(json.dumps([run(c) for c in json.load(sys.stdin)], default=str))
