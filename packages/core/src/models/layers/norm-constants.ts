/** PyTorch's BatchNorm momentum: `running = (1 - m) * running + m * batch`. */
export const BATCH_NORM_MOMENTUM = 0.1;
/** PyTorch's BatchNorm and LayerNorm epsilon. */
export const NORM_EPSILON = 1e-5;
