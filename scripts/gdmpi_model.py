#!/usr/bin/python3
"""Runs a gdmpi model.h5 with NumPy alone: what `gdmpi predict` computes, for readers that
do not have gdmpi (docs/outputs.md#predictions).

    import gdmpi_model
    model = gdmpi_model.load("runs/run/model.h5")
    X = model.read_features("data/fmnist-test.h5")   # the dataset and scale training used
    out = model.predict(X)   # {"class": ..., "probability": ...} or {"value": ...}

    gdmpi_model.py MODEL.h5 DATA.h5     prints the predictions as `gdmpi predict -o X.csv`

It reads only the per-layer groups (layer1/W, layer1/b or gamma, beta, running_mean,
running_var, with their in, out, activation and batchnorm attributes; a cnn's image layers
add kind, their shapes, kernel, stride and padding) and the input attributes (data.features,
data.scale): never gdmpi's flat parameter vector.
Needs Debian's python3-h5py and python3-numpy.
"""
import sys

import h5py
import numpy as np

BN_EPS = 1e-5  # batch norm's eps (docs/models.md)

HIDDEN = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "none": lambda z: z,  # a cnn's pools
}


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


class Layer:
    """y = act(bn(W x + b)); act is applied by the model (the last layer's is the task's)."""

    def __init__(self, group):
        a = group.attrs
        self.activation = _text(a["activation"])
        self.batchnorm = bool(a["batchnorm"])
        if "W" not in group:  # a pool
            return
        self.W = group["W"][()].astype(np.float64)
        assert self.W.shape == (int(a["out"]), int(a["in"])), (group.name, self.W.shape)
        names = ("gamma", "beta", "running_mean", "running_var") if self.batchnorm else ("b",)
        for name in names:
            setattr(self, name, group[name][()].astype(np.float64))

    def shift(self, z):
        """The bias, or batch norm with the running statistics (per unit, or per channel:
        the last axis)."""
        if not self.batchnorm:
            return z + self.b
        xhat = (z - self.running_mean) / np.sqrt(self.running_var + BN_EPS)
        return self.gamma * xhat + self.beta

    def affine(self, x):
        return self.shift(x.reshape(len(x), -1) @ self.W.T)  # after images: flattened


def _windows(x, kh, kw, stride, oh, ow):
    """The (r, q) views of x (samples, h, w, c) under each kernel position: x[:, oy s + r,
    ox s + q, :] for every output pixel (oy, ox)."""
    for r in range(kh):
        for q in range(kw):
            yield r, q, x[:, r:r + stride * (oh - 1) + 1:stride, q:q + stride * (ow - 1) + 1:stride, :]


class ImageLayer(Layer):
    """A cnn's conv, maxpool or avgpool on images (samples, height, width, channels)."""

    def __init__(self, group):
        super().__init__(group)
        a = group.attrs
        self.kind = _text(a["kind"])
        self.in_shape = tuple(int(a[k]) for k in ("in_height", "in_width", "in_channels"))
        self.out_shape = tuple(int(a[k]) for k in ("out_height", "out_width", "out_channels"))
        self.kh, self.kw = int(a["kernel_height"]), int(a["kernel_width"])
        self.stride, self.padding = int(a["stride"]), int(a["padding"])
        if self.kind == "conv":  # W: out channels x (kh x kw x in channels)
            self.W = self.W.reshape(self.out_shape[2], self.kh, self.kw, self.in_shape[2])

    def affine(self, x):
        x = x.reshape((len(x),) + self.in_shape)
        oh, ow = self.out_shape[:2]
        if self.kind == "conv":
            p = self.padding
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
            y = np.zeros((len(x), oh, ow, self.out_shape[2]))
            for r, q, view in _windows(x, self.kh, self.kw, self.stride, oh, ow):
                y += view @ self.W[:, r, q, :].T
            return self.shift(y)
        views = [v for _, _, v in _windows(x, self.kh, self.kw, self.stride, oh, ow)]
        return np.max(views, axis=0) if self.kind == "maxpool" else np.mean(views, axis=0)


class Model:
    def __init__(self, path):
        with h5py.File(path, "r") as f:
            a = f.attrs
            if _text(a.get("format", "")) != "gdmpi model" or int(a["version"]) < 2:
                raise ValueError("%s: not a gdmpi model.h5 of version 2 or later" % path)
            self.task = _text(a["task"])  # regression, binary or classes
            self.features = int(a["features"])
            self.data_features = _text(a["data.features"])
            self.scale = float(a["data.scale"])
            groups = [f["layer%d" % (i + 1)] for i in range(int(a["layers"]))]
            self.layers = [ImageLayer(g) if "kind" in g.attrs else Layer(g) for g in groups]

    def read_features(self, path):
        """The data file's features, transformed as training read them (x * data.scale)."""
        with h5py.File(path, "r") as f:
            X = f[self.data_features][()].astype(np.float64) * self.scale
        if X.ndim != 2 or X.shape[1] != self.features:
            raise ValueError("%s: %s has shape %s; the model reads %d features"
                             % (path, self.data_features, X.shape, self.features))
        return X

    def scores(self, X):
        """The output layer before its output function (logits, or the value)."""
        h = np.asarray(X, dtype=np.float64)
        for layer in self.layers[:-1]:
            h = HIDDEN[layer.activation](layer.affine(h))
        return self.layers[-1].affine(h).reshape(len(h), -1)

    def predict(self, X):
        """Per row: {"class", "probability"} for classifiers (binary: the class-1
        probability, class 1 when it is above 0.5), {"value"} for regression."""
        z = self.scores(X)
        if self.task == "regression":
            return {"value": z[:, 0]}
        if self.task == "binary":
            return {"class": (z[:, 0] > 0).astype(np.int32), "probability": HIDDEN["sigmoid"](z[:, 0])}
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return {"class": z.argmax(axis=1).astype(np.int32),
                "probability": e / e.sum(axis=1, keepdims=True)}


def load(path):
    return Model(path)


def write_csv(out, stream):
    """The layout of `gdmpi predict -o X.csv`: class,p0,...; class,p1; or value."""
    if "value" in out:
        columns, header = [out["value"]], ["value"]
    else:
        p = out["probability"]
        p = p[:, None] if p.ndim == 1 else p
        columns = [out["class"]] + [p[:, j] for j in range(p.shape[1])]
        header = ["class"] + (["p1"] if p.shape[1] == 1 else ["p%d" % j for j in range(p.shape[1])])
    stream.write(",".join(header) + "\n")
    for row in zip(*columns):
        stream.write(",".join(str(v) if isinstance(v, (int, np.integer)) else "%.9g" % v
                              for v in row) + "\n")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: gdmpi_model.py MODEL.h5 DATA.h5\n")
        return 2
    model = load(argv[1])
    write_csv(model.predict(model.read_features(argv[2])), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
