"""Video annotations: interpolating tracks between keyframes, and what one frame shows."""
