vcl 4.1;

# A shared cache (CDN edge) in front of a bucket that `staticserve publish` filled: every
# precompressed variant is an object of its own (css/app.3f2a9c1d7e4b.css.br), and this VCL picks
# the one the client accepts, caching each variant apart. Run it with
#     varnishd -f /path/to/varnish.vcl -a :80 -p http_gzip_support=off
# (http_gzip_support=off: Varnish must not gzip, gunzip or rewrite Accept-Encoding itself).
#
# Change the two marked lines: where the store answers, and the path of the published prefix
# on it. With S3 path-style URLs that is "/BUCKET/PREFIX/"; for a bucket website or a
# virtual-hosted endpoint, "/PREFIX/" (and set the Host field in vcl_backend_fetch).

backend store {
    .host = "127.0.0.1";  # the store's address  <- change
    .port = "8333";
}

sub vcl_recv {
    if (req.method != "GET" && req.method != "HEAD") {
        return (synth(405));
    }
    if (req.url !~ "^/static/") {
        return (synth(404));
    }
    # The bucket's own records are not assets.
    if (req.url ~ "^/static/(staticserve\.json|\.staticserve/)") {
        return (synth(404));
    }
    set req.url = regsub(req.url, "[?#].*$", "");
    # The coding to ask the bucket for, from Accept-Encoding: br over gzip over none. A coding
    # listed with q=0 is refused (RFC 9110 §12.5.3); no header means identity.
    set req.http.X-Coding = "identity";
    if (req.http.Accept-Encoding ~ "(^|,)\s*br\s*(,|;|$)" &&
        req.http.Accept-Encoding !~ "(^|,)\s*br\s*;\s*q\s*=\s*0(\.0{0,3})?\s*(,|$)") {
        set req.http.X-Coding = "br";
    } elsif (req.http.Accept-Encoding ~ "(^|,)\s*gzip\s*(,|;|$)" &&
        req.http.Accept-Encoding !~ "(^|,)\s*gzip\s*;\s*q\s*=\s*0(\.0{0,3})?\s*(,|$)") {
        set req.http.X-Coding = "gzip";
    }
    # One Accept-Encoding per coding: Varnish marks gzip objects "Vary: Accept-Encoding" itself,
    # and the field must then read the same for every client of that coding.
    set req.http.Accept-Encoding = req.http.X-Coding;
    unset req.http.Cookie;
    unset req.http.Authorization;
    return (hash);
}

sub vcl_hash {
    hash_data(req.url);
    hash_data(req.http.X-Coding);  # each coding is its own cached object
    return (lookup);
}

sub vcl_backend_fetch {
    # The object's path in the bucket (kept in a field of its own: a retry starts from it).
    if (bereq.retries == 0) {
        set bereq.http.X-Object = regsub(bereq.url, "^/static/", "/site/static/");  # <- change
    }
    if (bereq.retries == 0 && bereq.http.X-Coding == "br") {
        set bereq.url = bereq.http.X-Object + ".br";
    } elsif (bereq.retries == 0 && bereq.http.X-Coding == "gzip") {
        set bereq.url = bereq.http.X-Object + ".gz";
    } else {
        set bereq.url = bereq.http.X-Object;  # identity, or no variant was kept for this file
    }
}

sub vcl_backend_response {
    # A file without that variant (an image; a text too small to gain): its identity object.
    # AWS S3 answers 403, not 404, for a missing key to a reader that may not list the bucket.
    if ((beresp.status == 404 || beresp.status == 403) && bereq.retries == 0 &&
        bereq.http.X-Coding != "identity") {
        return (retry);
    }
    # The bucket's own records (staticserve.json, .staticserve/publish.json) are stored
    # "no-cache"/"no-store", every asset "public": told apart by what was fetched, so no
    # spelling of the URL that the store decodes to them (%2E, //, %73...) gets them out.
    if (beresp.status == 200 && beresp.http.Cache-Control !~ "(^|,)\s*public\s*(,|$)") {
        return (error(404, "Not Found"));
    }
    if (beresp.status != 200) {
        set beresp.ttl = 10s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    # The bucket's Cache-Control (immutable for a year on hashed names, short on logical names)
    # sets the TTL as Varnish reads it. The variants are kept apart by vcl_hash; the store's
    # "Vary: Origin" would only split the cache by the pages' origins.
    unset beresp.http.Vary;
    unset beresp.http.Set-Cookie;
    return (deliver);
}

sub vcl_deliver {
    # For the caches after this one (browsers, proxies): the bytes depend on Accept-Encoding.
    set resp.http.Vary = "Accept-Encoding";
    unset resp.http.X-Amz-Request-Id;
    unset resp.http.Seaweed-X-Amz-ETag;
    unset resp.http.Seaweed-X-Amz-Owner;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "hit";
    } else {
        set resp.http.X-Cache = "miss";
    }
}
