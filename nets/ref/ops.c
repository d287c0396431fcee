/* The ref backend's op table. */
#include "nets/ref/ref.h"

const nn_ops nn_ref_ops = {
    .name = "ref",
    .conv2d = nn_ref_conv2d,
    .conv_transpose2d = nn_ref_conv_transpose2d,
    .matmul = nn_ref_matmul,
    .activation = nn_ref_activation,
    .snake = nn_ref_snake,
    .gdn = nn_ref_gdn,
    .group_norm = nn_ref_group_norm,
    .layer_norm = nn_ref_layer_norm,
    .layer_norm_add = nn_ref_layer_norm_add,
    .add = nn_ref_add,
    .channel_scale = nn_ref_channel_scale,
    .bias_act = nn_ref_bias_act,
    .bias_residual = nn_ref_bias_residual,
    .pixel_shuffle = nn_ref_pixel_shuffle,
};
