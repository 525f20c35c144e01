// The load bench's hand-built peer of Tiergate: what a distributor would put in front of the
// vendor's partner API with nginx and njs alone (njs 0.7.9, Debian 12's libnginx-mod-http-js).
//
// nginx does the rest (benches/benches/proxy_load/peer.rs writes the config): a `map` pulls the
// access key out of the Authorization header for `limit_req` and looks up the key table
// (AK -> SK and partner id), and the named location `@upstream` proxies with keep-alive.
// This script, the `js_content` handler of every request, does what nginx cannot:
//
// 1. verifies the caller's SDK-HMAC-SHA256 signature exactly as the vendor SDK makes it
//    (huaweicloudsdkcore's signer.py; the same rules as tiergate_policy::aksk::verify):
//    `host` and `x-sdk-date` signed, X-Sdk-Date within 15 minutes of now, the canonical
//    URI (decoded, each segment re-encoded, always ending in `/`), the canonical query
//    (pairs percent-encoded, sorted by name then value), the signed headers, and the body's
//    SHA-256 (a JSON body must be signed: `UNSIGNED-PAYLOAD` is refused), the signature
//    compared without an early exit; a failure is a 401 with the vendor's
//    `{error_code, error_msg}` body, and the request never reaches the upstream;
// 2. re-signs the request with the distributor's own key: a new X-Sdk-Date, the upstream's
//    host, the distributor's X-Domain-Id, the caller's Content-Type and the same body hash;
//
// then hands the new Authorization and X-Sdk-Date to `@upstream` in `js_var` variables and
// redirects there with `r.internalRedirect`. The variables keep their values across the
// redirect (tried on njs 0.7.9; the bench's check would see a request signed with an empty
// Authorization otherwise), so no subrequest is needed. The body read here stays the request's
// body, so the proxy forwards the very bytes whose hash was verified and re-signed.
//
// What it does not do, next to Tiergate: no tier policy or scoping, no quota or ledger, no
// replay cache (njs 0.7.9 has no shared dictionary; `js_shared_dict_zone` came with 0.8.0),
// and one query order only (Tiergate also accepts a repeated parameter's values in the order
// received, as the Go SDK signs them).

var crypto = require('crypto');

// The vendor's clock-skew window.
var SKEW_MS = 15 * 60 * 1000;
var ALGORITHM = 'SDK-HMAC-SHA256';
var EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
var HEX = '0123456789ABCDEF';
// Strings the SDK's quote(safe='~') leaves as they are: the fast path.
var PLAIN = /^[A-Za-z0-9\-._~]*$/;
var PLAIN_PATH = /^[A-Za-z0-9\-._~\/]*$/;
var DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

// A vendor-style refusal; nothing is forwarded.
function refuse(r, why) {
    r.headersOut['Content-Type'] = 'application/json;charset=UTF-8';
    r.return(401, JSON.stringify({
        error_code: 'APIGW.0301',
        error_msg: 'Incorrect IAM authentication information: ' + why
    }));
}

function isHex(c) {
    return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

// Percent-decodes to bytes (no `+` to space, as the SDK's unquote of a path); a `%` not
// followed by two hex digits stays itself.
function decode(s) {
    var b = Buffer.from(s);
    var out = [];
    for (var i = 0; i < b.length; i++) {
        if (b[i] === 37 && i + 2 < b.length && isHex(b[i + 1]) && isHex(b[i + 2])) {
            out.push(parseInt(String.fromCharCode(b[i + 1], b[i + 2]), 16));
            i += 2;
        } else {
            out.push(b[i]);
        }
    }
    return out;
}

// Python's quote(bytes, safe='~'): every byte but A-Z a-z 0-9 - . _ ~ as %XX.
function encode(bytes) {
    var out = '';
    for (var i = 0; i < bytes.length; i++) {
        var c = bytes[i];
        if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
            || c === 45 || c === 46 || c === 95 || c === 126) {
            out += String.fromCharCode(c);
        } else {
            out += '%' + HEX[c >> 4] + HEX[c & 15];
        }
    }
    return out;
}

function canonicalPart(s) {
    return PLAIN.test(s) ? s : encode(decode(s));
}

// The path decoded, split on `/`, each segment encoded, always ending in `/`.
function canonicalUri(path) {
    var out;
    if (PLAIN_PATH.test(path)) {
        out = path;
    } else {
        var bytes = decode(path);
        var segments = [];
        var start = 0;
        for (var i = 0; i <= bytes.length; i++) {
            if (i === bytes.length || bytes[i] === 47) {
                segments.push(encode(bytes.slice(start, i)));
                start = i + 1;
            }
        }
        out = segments.join('/');
    }
    return out.charAt(out.length - 1) === '/' ? out : out + '/';
}

function byNameThenValue(a, b) {
    if (a[0] !== b[0]) {
        return a[0] < b[0] ? -1 : 1;
    }
    return a[1] < b[1] ? -1 : (a[1] > b[1] ? 1 : 0);
}

// Pairs percent-encoded, sorted by name then value, joined with `&`.
function canonicalQuery(raw) {
    if (!raw) {
        return '';
    }
    var pairs = [];
    var parts = raw.split('&');
    for (var i = 0; i < parts.length; i++) {
        if (parts[i] === '') {
            continue;
        }
        var eq = parts[i].indexOf('=');
        var k = eq < 0 ? parts[i] : parts[i].slice(0, eq);
        var v = eq < 0 ? '' : parts[i].slice(eq + 1);
        pairs.push([canonicalPart(k), canonicalPart(v)]);
    }
    pairs.sort(byNameThenValue);
    return pairs.map(function (p) { return p[0] + '=' + p[1]; }).join('&');
}

function pad(n) {
    return n < 10 ? '0' + n : '' + n;
}

function formatDate(d) {
    return d.getUTCFullYear() + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) + 'T'
        + pad(d.getUTCHours()) + pad(d.getUTCMinutes()) + pad(d.getUTCSeconds()) + 'Z';
}

// Milliseconds since the epoch, or NaN for anything but a real YYYYMMDDTHHMMSSZ date
// (formatted back and compared, so 20250230 is refused rather than rolled over).
function parseDate(s) {
    var m = DATE.exec(s);
    if (!m) {
        return NaN;
    }
    var t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    return formatDate(new Date(t)) === s ? t : NaN;
}

// `SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..`, each field once.
function parseAuthorization(value) {
    var space = value.indexOf(' ');
    if (space < 0 || value.slice(0, space) !== ALGORITHM) {
        return null;
    }
    var fields = {};
    var parts = value.slice(space + 1).split(',');
    for (var i = 0; i < parts.length; i++) {
        var p = parts[i].trim();
        var eq = p.indexOf('=');
        var k = p.slice(0, eq);
        if (eq < 0 || (k !== 'Access' && k !== 'SignedHeaders' && k !== 'Signature')
            || fields[k] !== undefined) {
            return null;
        }
        fields[k] = p.slice(eq + 1);
    }
    if (!fields.Access || fields.SignedHeaders === undefined
        || !/^[0-9a-fA-F]{64}$/.test(fields.Signature || '')) {
        return null;
    }
    var signed = fields.SignedHeaders.split(';');
    for (var j = 0; j < signed.length; j++) {
        if (signed[j] === '' || /[A-Z]/.test(signed[j])) {
            return null;
        }
    }
    return { ak: fields.Access, signed: signed, signature: fields.Signature.toLowerCase() };
}

// Every character compared whatever the first difference: no timing oracle on the prefix.
function sameHex(a, b) {
    if (a.length !== b.length) {
        return false;
    }
    var diff = 0;
    for (var i = 0; i < a.length; i++) {
        diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return diff === 0;
}

function sha256(data) {
    return crypto.createHash('sha256').update(data).digest('hex');
}

// The hex HMAC-SHA256, keyed with the SK itself, of the string to sign.
function signature(sk, date, method, uri, query, headers, hash) {
    var names = [];
    var lines = '';
    for (var i = 0; i < headers.length; i++) {
        names.push(headers[i][0]);
        lines += headers[i][0] + ':' + headers[i][1].trim() + '\n';
    }
    var signedList = names.join(';');
    var canonical = [method, uri, query, lines, signedList, hash].join('\n');
    var toSign = ALGORITHM + '\n' + date + '\n' + sha256(canonical);
    return {
        names: signedList,
        hex: crypto.createHmac('sha256', sk).update(toSign).digest('hex')
    };
}

// The js_content handler: verify, re-sign, hand over to @upstream.
function verify(r) {
    var header = r.headersIn.Authorization;
    if (!header) {
        return refuse(r, 'the request is not signed');
    }
    var auth = parseAuthorization(header);
    if (!auth) {
        return refuse(r, 'malformed Authorization header');
    }
    // The key limit_req counted must be the key verified.
    if (auth.ak !== r.variables.peer_ak) {
        return refuse(r, 'malformed Authorization header');
    }
    var sk = r.variables.peer_sk;
    if (!sk) {
        return refuse(r, 'unknown access key');
    }
    if (auth.signed.indexOf('host') < 0 || auth.signed.indexOf('x-sdk-date') < 0) {
        return refuse(r, 'host and x-sdk-date must be signed');
    }
    var headers = [];
    for (var i = 0; i < auth.signed.length; i++) {
        var value = r.headersIn[auth.signed[i]];
        if (value === undefined) {
            return refuse(r, 'signed header ' + auth.signed[i] + ' is missing');
        }
        headers.push([auth.signed[i], value]);
    }
    var date = r.headersIn['X-Sdk-Date'].trim();
    var signedAt = parseDate(date);
    if (isNaN(signedAt)) {
        return refuse(r, 'X-Sdk-Date is not YYYYMMDDTHHMMSSZ');
    }
    if (Math.abs(Date.now() - signedAt) > SKEW_MS) {
        return refuse(r, 'X-Sdk-Date is outside the 15 minute window');
    }
    // A reseller's SDK may name its account; it must be the key's own.
    var domain = r.headersIn['X-Domain-Id'];
    if (domain !== undefined && domain.trim() !== r.variables.peer_partner) {
        return refuse(r, 'X-Domain-Id is not the account of this access key');
    }
    // The whole body, in memory (client_body_in_single_buffer, a buffer as large as the
    // largest body accepted): requestBuffer throws when nginx spilled it to a file.
    var body = r.requestBuffer;
    var hash = body && body.length ? sha256(body) : EMPTY_SHA256;
    var declared = r.headersIn['X-Sdk-Content-Sha256'];
    if (body && body.length && declared !== undefined) {
        declared = declared.trim();
        if (declared === 'UNSIGNED-PAYLOAD') {
            return refuse(r, 'the request body must be signed');
        }
        if (declared.toLowerCase() !== hash) {
            return refuse(r, 'the body does not match X-Sdk-Content-Sha256');
        }
    }
    headers.sort(function (a, b) { return a[0] < b[0] ? -1 : (a[0] > b[0] ? 1 : 0); });
    // As received: @upstream forwards $request_uri itself, so what is verified is what goes.
    var target = r.variables.request_uri;
    var q = target.indexOf('?');
    var uri = canonicalUri(q < 0 ? target : target.slice(0, q));
    var query = canonicalQuery(q < 0 ? '' : target.slice(q + 1));
    var theirs = signature(sk, date, r.method, uri, query, headers, hash);
    if (!sameHex(theirs.hex, auth.signature)) {
        return refuse(r, 'the signature does not match the request');
    }

    // Re-signed for the vendor: exactly the headers @upstream sets, sorted by name.
    var now = formatDate(new Date());
    var ours = [];
    var type = r.headersIn['Content-Type'];
    if (type !== undefined) {
        ours.push(['content-type', type]);
    }
    ours.push(['host', r.variables.peer_upstream_host]);
    ours.push(['x-domain-id', r.variables.peer_dist_domain]);
    ours.push(['x-sdk-date', now]);
    var sig = signature(r.variables.peer_dist_sk, now, r.method, uri, query, ours, hash);
    r.variables.peer_date = now;
    r.variables.peer_auth = ALGORITHM + ' Access=' + r.variables.peer_dist_ak
        + ', SignedHeaders=' + sig.names + ', Signature=' + sig.hex;
    r.internalRedirect('@upstream');
}

export default { verify };
