"""The Python `flickrapi` client (PyPI, 2.4.0) driving the flickrfs emulator.

Run by tests/python_clients.rs with the emulator's address, an API key and
secret, a write token of a user, and a JPEG to upload, in the environment.
It talks to the emulator exactly as it talks to Flickr: OAuth 1.0a in the
Authorization header (requests-oauthlib), REST in Flickr's XML (`etree`)
and in JSON (`parsed-json`), the multipart upload, and the browser-less
OAuth dance with an out-of-band verifier. Any mismatch raises, so the
process exits non-zero; the last line printed is `flickrapi: N checks passed`.
"""

import os
import re
import sys

import requests

import flickrapi
import flickrapi.auth
from flickrapi.exceptions import FlickrError

BASE = os.environ["EMU_BASE"]
KEY = os.environ["EMU_KEY"]
SECRET = os.environ["EMU_SECRET"]
TOKEN = os.environ["EMU_TOKEN"]
TOKEN_SECRET = os.environ["EMU_TOKEN_SECRET"]
NSID = os.environ["EMU_NSID"]
USERNAME = os.environ["EMU_USERNAME"]
JPEG = os.environ["EMU_JPEG"]

# Every Flickr URL the library knows, pointed at the emulator.
flickrapi.FlickrAPI.REST_URL = BASE + "/services/rest/"
flickrapi.FlickrAPI.UPLOAD_URL = BASE + "/services/upload/"
flickrapi.FlickrAPI.REPLACE_URL = BASE + "/services/replace/"
flickrapi.auth.OAuthFlickrInterface.REQUEST_TOKEN_URL = BASE + "/services/oauth/request_token"
flickrapi.auth.OAuthFlickrInterface.AUTHORIZE_URL = BASE + "/services/oauth/authorize"
flickrapi.auth.OAuthFlickrInterface.ACCESS_TOKEN_URL = BASE + "/services/oauth/access_token"

checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def client(fmt, token=None):
    tok = token or flickrapi.auth.FlickrAccessToken(
        TOKEN, TOKEN_SECRET, "write", USERNAME, USERNAME, NSID
    )
    return flickrapi.FlickrAPI(KEY, SECRET, token=tok, store_token=False, format=fmt)


def drive_etree():
    """Flickr's default XML, parsed by ElementTree."""
    f = client("etree")
    check(f.token_valid(perms="write"), "checkToken: token valid for write")
    login = f.test.login()
    check(login.find("user").get("id") == NSID, "test.login id")
    check(login.findtext("user/username") == USERNAME, "test.login username")

    up = f.upload(filename=JPEG, title="From flickrapi XML", tags='sea "summer light"',
                  is_public="0", format="etree")
    photo_id = up.findtext("photoid")
    check(photo_id and photo_id.isdigit(), "upload photoid")

    info = f.photos.getInfo(photo_id=photo_id)
    p = info.find("photo")
    check(p.findtext("title") == "From flickrapi XML", "getInfo title")
    check(p.find("visibility").get("ispublic") == "0", "getInfo visibility")
    raws = sorted(t.get("raw") for t in p.findall("tags/tag"))
    check(raws == ["sea", "summer light"], "getInfo raw tags %r" % raws)
    check(p.find("dates").get("taken") is not None, "getInfo dates")

    f.photos.setMeta(photo_id=photo_id, title="Renamed in XML", description="d")
    check(f.photos.getInfo(photo_id=photo_id).findtext("photo/title") == "Renamed in XML",
          "setMeta")

    created = f.photosets.create(title="XML set", primary_photo_id=photo_id)
    set_id = created.find("photoset").get("id")
    check(set_id, "photosets.create id")
    listed = [s.get("id") for s in f.photosets.getList().findall("photosets/photoset")]
    check(set_id in listed, "photosets.getList")
    # (flickrapi's walk_* helpers call Element.getchildren, gone since Python 3.9.)
    members = f.photosets.getPhotos(photoset_id=set_id, user_id=NSID).findall("photoset/photo")
    check([ph.get("id") for ph in members] == [photo_id], "photosets.getPhotos")
    check(members[0].get("isprimary") == "1", "isprimary")
    mine = f.people.getPhotos(user_id="me").findall("photos/photo")
    check(photo_id in [ph.get("id") for ph in mine], "people.getPhotos")

    found = f.photos.search(user_id="me", tags="sea")
    check([ph.get("id") for ph in found.findall("photos/photo")] == [photo_id], "search")
    sizes = [s.get("label") for s in f.photos.getSizes(photo_id=photo_id).findall("sizes/size")]
    check(sizes[0] == "Square" and sizes[-1] == "Original", "getSizes %r" % sizes)
    person = f.people.getInfo(user_id=NSID).find("person")
    check(int(person.findtext("photos/count")) >= 1, "people.getInfo count")

    try:
        f.photos.getInfo(photo_id="1")
        check(False, "getInfo of a missing photo must fail")
    except FlickrError as e:
        check(str(e.code) == "1", "error code of a missing photo: %r" % e.code)
    return photo_id, set_id


def drive_json(photo_id, set_id):
    """JSON without the callback wrapper, parsed by the library."""
    f = client("parsed-json")
    login = f.test.login()
    check(login["stat"] == "ok" and login["user"]["id"] == NSID, "json test.login")
    check(login["user"]["username"]["_content"] == USERNAME, "json username _content")

    up = f.upload(filename=JPEG, title="From flickrapi JSON", format="etree")
    second = up.findtext("photoid")
    f.photosets.addPhoto(photoset_id=set_id, photo_id=second)
    members = f.photosets.getPhotos(photoset_id=set_id, user_id=NSID)["photoset"]["photo"]
    check([m["id"] for m in members] == [photo_id, second], "json set members")

    info = f.photos.getInfo(photo_id=photo_id)["photo"]
    check(info["title"]["_content"] == "Renamed in XML", "json getInfo title")
    listed = f.people.getPhotos(user_id="me", extras="machine_tags,date_upload")["photos"]
    check(int(listed["total"]) == 2, "json people.getPhotos total")

    ctx = f.photos.getAllContexts(photo_id=second)
    check([s["id"] for s in ctx["set"]] == [set_id], "json getAllContexts")

    try:
        f.photos.search()
        check(False, "a parameterless search must fail")
    except FlickrError as e:
        check(str(e.code) == "3", "parameterless search code %r" % e.code)

    # The raw JSON format with Flickr's callback wrapper.
    raw = client("json").test.echo(jsoncallback="jsonFlickrApi", foo="bar")
    raw = raw.decode() if isinstance(raw, bytes) else raw
    check(raw.startswith("jsonFlickrApi(") and raw.endswith(")"), "jsonFlickrApi wrapper")


def oauth_dance():
    """Request token, authorisation page (auto-approved), verifier, access token."""
    f = flickrapi.FlickrAPI(KEY, SECRET, store_token=False, format="etree")
    f.get_request_token(oauth_callback="oob")
    page = requests.get(f.auth_url(perms="write")).text
    m = re.search(r'id="verifier">([0-9-]+)<', page)
    check(m, "authorise page shows the verifier")
    f.get_access_token(m.group(1))
    check(f.token_valid(perms="write"), "the new token is valid")
    check(f.test.login().find("user").get("id") == NSID, "login with the new token")


if __name__ == "__main__":
    pid, sid = drive_etree()
    drive_json(pid, sid)
    oauth_dance()
    print("flickrapi: %d checks passed" % checks)
    sys.exit(0)
