#!/usr/bin/env python3
"""Converts Fashion-MNIST's idx files (Debian's dataset-fashion-mnist) to one HDF5 file.

    fashion_mnist_to_hdf5.py OUT.h5 [--source /usr/share/datasets/fashion-mnist]

The file holds /train/images (60000, 28, 28) and /test/images (10000, 28, 28) as uint8,
chunked by 1000 images and gzip-compressed with the shuffle filter, /train/labels and
/test/labels as uint8, and the class names as an attribute of the root. spartanxx reads
it with io::read_hdf5 (uint8 widens to int32). Needs h5py and NumPy (Debian's
python3-h5py, python3-numpy).
"""
import argparse
import gzip
import os
import sys

import h5py
import numpy as np

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        sys.exit("%s: not an idx file of unsigned bytes" % path)
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * d: 8 + 4 * d], "big") for d in range(dims))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        sys.exit("%s: %d bytes of data, its header says %s" % (path, data.size, shape))
    return data.reshape(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the HDF5 file to write (replaced when it exists)")
    parser.add_argument("--source", default="/usr/share/datasets/fashion-mnist",
                        help="folder of {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz")
    args = parser.parse_args()
    tmp = args.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["source"] = "Fashion-MNIST (Zalando Research), converted from " + args.source
        f.attrs["classes"] = ",".join(CLASSES)
        for part, group in (("train", "train"), ("t10k", "test")):
            images = read_idx(os.path.join(args.source, part + "-images-idx3-ubyte.gz"))
            labels = read_idx(os.path.join(args.source, part + "-labels-idx1-ubyte.gz"))
            if images.shape[0] != labels.shape[0]:
                sys.exit("%s: %d images but %d labels" % (part, images.shape[0], labels.shape[0]))
            f.create_dataset(group + "/images", data=images, chunks=(1000,) + images.shape[1:],
                             compression="gzip", compression_opts=4, shuffle=True)
            f.create_dataset(group + "/labels", data=labels, chunks=(10000,), compression="gzip")
    os.replace(tmp, args.out)
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
