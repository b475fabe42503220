"""How long-lived commands stop: the first SIGTERM or SIGINT asks for a warm stop, the second
aborts."""

import os
import signal

import pytest

from facestream.stopping import StopRequest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_sets_a_flag_second_aborts_and_handlers_are_restored(sig):
    before = signal.getsignal(sig)
    with StopRequest() as request:
        assert not request.requested
        os.kill(
            os.getpid(), sig
        )  # delivered to the main thread before kill() returns to Python code
        assert request.requested  # no exception: the follow loop reads the flag at its own pace
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), sig)
    assert signal.getsignal(sig) is before


def test_wait_returns_at_once_on_a_request_or_a_condition_and_false_after_the_time():
    request = StopRequest()
    assert request.wait(0.05) is False
    assert request.wait(60, until=lambda: True) is True
    request.requested = True
    assert request.wait(60) is True


def test_on_request_is_called_once_on_the_first_signal():
    calls = []
    with StopRequest(on_request=lambda: calls.append(1)) as request:
        os.kill(os.getpid(), signal.SIGTERM)
        assert request.requested and calls == [1]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    assert calls == [1]
