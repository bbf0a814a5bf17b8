"""Keep the navigator's per-message path predictable on a shared CPU.

Called once by :class:`compass_nav.ros.navigator_node.Navigator` at the end of a successful
configure (after the model's warm-up), so the image -> command path pays no thread hand-offs
or garbage-collector pauses that a busy machine turns into tail latency:

* OpenCV (the runtime's resize, compressed-image decode) runs single-threaded: a 64x64
  resize takes microseconds, and waking a second worker thread that competes with another
  process for the core costs far more at the tail than it saves;
* every object alive after configure (modules, the model, the node) is moved out of the
  cyclic garbage collector's reach (:func:`gc.freeze`): a full collection of the navigator's
  heap took 35 ms here before, about 0 ms after, and such a collection could otherwise
  land inside any control step.

onnxruntime already runs one intra-op thread (:class:`compass_nav.runtime.onnx_runtime.
OnnxRuntime`'s default).
"""

from __future__ import annotations

import gc

__all__ = ["settle"]


def settle() -> None:
    """One OpenCV thread; freeze what configure created out of the cyclic GC."""
    try:
        import cv2
    except ImportError:  # the node decodes compressed images and resizes only with OpenCV
        pass
    else:
        cv2.setNumThreads(1)
    gc.collect()
    gc.freeze()
