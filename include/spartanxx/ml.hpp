#pragma once
// spartanxx's machine-learning algorithms, written on the public array API.
#include "spartanxx/ml/hashing_tf.hpp"
#include "spartanxx/ml/idf.hpp"
#include "spartanxx/ml/logistic_regression.hpp"
#include "spartanxx/ml/logistic_regression_lbfgs.hpp"
#include "spartanxx/ml/tokenizer.hpp"
#include "spartanxx/ml/text_features.hpp"
#include "spartanxx/ml/metrics.hpp"
#include "spartanxx/ml/documents.hpp"
