#!/usr/bin/python3
"""A real RTSP server for tests and benchmarks: a video file played live, in a loop, at its own frame rate.

Runs under the *system* Python (Debian's python3-gi + gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-{base,good,bad,ugly}, gstreamer1.0-libav), not the venv:

    /usr/bin/python3 tests/support/rtsp_server.py VIDEO --port 8554 [--path /cam] [--user u --password p]

A playback pipeline decodes VIDEO in real time and loops it forever into an
``intervideosink``; every RTSP client gets the current picture (H.264,
zerolatency) from an ``intervideosrc``, like a real camera: joining late means
seeing the present, not the start of the file. Prints ``READY rtsp://...`` once
it listens. SIGTERM/SIGINT stop it.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("video")
    p.add_argument("--port", type=int, default=8554)
    p.add_argument("--path", default="/cam")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--fps", default="30000/1001")
    args = p.parse_args()
    Gst.init(None)
    loop = GLib.MainLoop()

    play = Gst.parse_launch(
        f'filesrc location="{args.video}" ! decodebin ! videoconvert ! videorate ! '
        f"video/x-raw,format=I420,framerate={args.fps} ! intervideosink channel=cam sync=true"
    )

    def on_message(_bus, msg):
        if msg.type == Gst.MessageType.EOS:  # loop forever
            play.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print(f"ERROR {err} {dbg}", file=sys.stderr, flush=True)
            loop.quit()
        return True

    bus = play.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    play.set_state(Gst.State.PLAYING)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( intervideosrc channel=cam timeout=18446744073709551615 ! video/x-raw,framerate={args.fps} ! "
        "videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 bitrate=1500 ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(True)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        perms.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(perms)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on port {args.port}", file=sys.stderr, flush=True)
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()
    play.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
