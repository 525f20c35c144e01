"""Every operation of the pinned SDK's BssClient, as the SDK itself builds it: prints a JSON
list of {"operation", "method", "path"} (path as the SDK's resource_path template)."""

import json
import re

import huaweicloudsdkbss.v2.model as model
from huaweicloudsdkbss.v2.bss_client import BssClient


def camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


def main():
    out = []
    for attr in sorted(dir(BssClient)):
        m = re.fullmatch(r"_(\w+)_http_info", attr)
        if not m:
            continue
        op = m.group(1)
        request = getattr(model, camel(op) + "Request")()
        info = getattr(BssClient, attr)(request)
        out.append({"operation": op, "method": info["method"], "path": info["resource_path"]})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
