"""Video: probing and frame extraction (``probe``, needs PyAV), the frame timeline and the frame chunk format
(``timeline``, ``chunks``: pure, no PyAV, so the API reads frames without it), and annotations: interpolating
tracks between keyframes and what one frame shows (``tracks``, ``interpolation``)."""
