"""cnnspec: write a convolutional network down as a spec, check it, train it, learn from it."""
__version__ = "0.1.0"
