"""/api/docs works offline: every asset comes from paperwire, and its CSP is the site's strict one."""

import re


def test_api_docs_assets_are_served_by_paperwire(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "http" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert len(refs) >= 4
    for ref in refs:
        assert ref.startswith("/"), ref  # nothing from another host
        asset = client.get(ref)
        assert asset.status_code == 200 and asset.content, ref
    assert "<script>" not in r.text  # no inline script: the page starts Swagger UI from /static
    bundle = client.get("/api/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle


def test_openapi_document_is_what_the_docs_page_reads(client):
    page = client.get("/api/docs").text
    url = re.search(r'data-url="([^"]+)"', page).group(1)
    assert client.get(url).json()["openapi"].startswith("3.")
