/* Optimizers: each one's first three steps against values worked out by hand from the
 * published formulas (derivations in the comments), plus the gradient helpers (norm,
 * clipping, L1 subgradient, gradient noise).
 *
 * Every optimizer starts from w0 = (1, -2) and sees the gradients
 *   g1 = (0.5, -1),  g2 = (0.01, 0.5),  g3 = (-0.005, 2)
 * with lr = 0.1, momentum 0.9, beta1 0.9, beta2 0.999, eps 1e-6, rho 0.95, decay 0.9,
 * weight_decay 0.01. g2[0] is tiny so that the second moment of element 0 falls
 * (v2 < v1): that is where AMSGrad's running maximum parts from Adam. The comments derive
 * element 0 step by step; element 1 follows the same arithmetic. Where eps goes is pinned
 * separately, by one step with a large eps (test_*_eps). */
#include "unit.h"

#include "gdmpi/optim.h"
#include "gdmpi/rng.h"
#include "gdmpi/update.h"

#include <math.h>

static const float G[3][2] = {{0.5f, -1.0f}, {0.01f, 0.5f}, {-0.005f, 2.0f}};

static const gd_optim_hparams HP = {.lr = 0.1,
                                    .momentum = 0.9,
                                    .beta1 = 0.9,
                                    .beta2 = 0.999,
                                    .eps = 1e-6,
                                    .rho = 0.95,
                                    .decay = 0.9,
                                    .weight_decay = 0.01};

/* Runs three steps of `name` at lr and compares w after each with want (float rounding of
 * a few operations: 2e-6 absolute on values near 1). */
static void expect_steps(const char *name, float lr, const double want[3][2])
{
    gd_optim o;
    assert_int_equal(gd_optim_create(&o, name, &HP, 2), 0);
    float w[2] = {1.0f, -2.0f};
    for (int s = 0; s < 3; s++) {
        float g[2] = {G[s][0], G[s][1]};
        gd_optim_step(&o, w, g, lr);
        for (int i = 0; i < 2; i++)
            if (fabs(w[i] - want[s][i]) > 2e-6)
                fail_msg("%s: after step %d w[%d] = %.9g, want %.9g", name, s + 1, i, w[i],
                         want[s][i]);
    }
    assert_int_equal(o.t, 3);
    gd_optim_destroy(&o);
}

static void test_sgd(void **state)
{
    (void)state;
    /* w <- w - lr g:  1 - 0.1*0.5 = 0.95;  0.95 - 0.1*0.01 = 0.949;  0.949 + 0.0005 = 0.9495
     * element 1: -2 + 0.1 = -1.9;  -1.9 - 0.05 = -1.95;  -1.95 - 0.2 = -2.15 */
    const double want[3][2] = {{0.95, -1.9}, {0.949, -1.95}, {0.9495, -2.15}};
    expect_steps("sgd", 0.1f, want);
}

static void test_momentum(void **state)
{
    (void)state;
    /* v <- 0.9 v + lr g, w <- w - v
     * v1 = 0.05                        w1 = 0.95
     * v2 = 0.045 + 0.001 = 0.046       w2 = 0.904
     * v3 = 0.0414 - 0.0005 = 0.0409    w3 = 0.8631
     * element 1: v = -0.1, -0.04, 0.164; w = -1.9, -1.86, -2.024 */
    const double want[3][2] = {{0.95, -1.9}, {0.904, -1.86}, {0.8631, -2.024}};
    expect_steps("momentum", 0.1f, want);
}

static void test_nesterov(void **state)
{
    (void)state;
    /* v <- 0.9 v + lr g, w <- w - (0.9 v + lr g)   (lookahead form)
     * v1 = 0.05     w1 = 1 - (0.045 + 0.05) = 0.905
     * v2 = 0.046    w2 = 0.905 - (0.0414 + 0.001) = 0.8626
     * v3 = 0.0409   w3 = 0.8626 - (0.03681 - 0.0005) = 0.82629
     * element 1: v = -0.1, -0.04, 0.164
     *            w = -2 + 0.19 = -1.81;  -1.81 - (-0.036 + 0.05) = -1.824;
     *                -1.824 - (0.1476 + 0.2) = -2.1716 */
    const double want[3][2] = {{0.905, -1.81}, {0.8626, -1.824}, {0.82629, -2.1716}};
    expect_steps("nesterov", 0.1f, want);
}

static void test_adagrad(void **state)
{
    (void)state;
    /* G <- G + g^2, w <- w - lr g / (sqrt(G) + eps)
     * G1 = 0.25      w1 = 1 - 0.05 / (0.5 + 1e-6) = 0.9000002
     * G2 = 0.2501    w2 = w1 - 0.001 / (0.50009999 + 1e-6) = 0.898000604
     * G3 = 0.250125  w3 = w2 + 0.0005 / (0.50012498 + 1e-6) = 0.899000352
     * element 1: G = 1, 1.25, 5.25
     *            w = -2 + 0.1/1.000001 = -1.9000001;  - 0.05/1.1180350 = -1.94472142;
     *                - 0.2/2.2912878 = -2.03200854 */
    const double want[3][2] = {
        {0.9000002, -1.9000001}, {0.898000604, -1.94472142}, {0.899000352, -2.03200854}};
    expect_steps("adagrad", 0.1f, want);
}

static void test_adadelta(void **state)
{
    (void)state;
    /* E[g^2] <- 0.95 E[g^2] + 0.05 g^2;  dx = -sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) g;
     * E[dx^2] <- 0.95 E[dx^2] + 0.05 dx^2;  w <- w + lr dx, with lr = 1 (the default)
     * 1: E[g^2] = 0.0125    dx = -sqrt(1e-6)/sqrt(0.012501) 0.5 = -0.00447195708
     *    E[dx^2] = 0.05 * 2.0e-5 = 9.99920006e-07                 w1 = 0.995528043
     * 2: E[g^2] = 0.01188   dx = -sqrt(1.99992e-06)/sqrt(0.011881) 0.01 = -0.000129741769
     *    E[dx^2] = 9.50765652e-07                                  w2 = 0.995398301
     * 3: E[g^2] = 0.01128725  dx = sqrt(1.950766e-06)/sqrt(0.01128825) 0.005 = 6.5729336e-05
     *                                                              w3 = 0.99546403
     * element 1: dx = 0.00447209123, -0.00288671286, -0.00606915702
     *            w = -1.99552791, -1.99841462, -2.00448378 */
    const double want[3][2] = {
        {0.995528043, -1.99552791}, {0.995398301, -1.99841462}, {0.99546403, -2.00448378}};
    expect_steps("adadelta", 1.0f, want);
}

static void test_rmsprop(void **state)
{
    (void)state;
    /* E <- 0.9 E + 0.1 g^2, w <- w - lr g / (sqrt(E) + eps)
     * E1 = 0.025      w1 = 1 - 0.05 / (0.158113883 + 1e-6) = 0.683774234
     * E2 = 0.02251    w2 = w1 - 0.001 / (0.150033330 + 1e-6) = 0.677109093
     * E3 = 0.0202615  w3 = w2 + 0.0005 / (0.142343247 + 1e-6) = 0.680621713
     * element 1: E = 0.1, 0.115, 0.5035; w = -1.68377323, -1.83121476, -2.11307229 */
    const double want[3][2] = {
        {0.683774234, -1.68377323}, {0.677109093, -1.83121476}, {0.680621713, -2.11307229}};
    expect_steps("rmsprop", 0.1f, want);
}

/* The Adam family's moments for element 0 (beta1 0.9, beta2 0.999):
 *   t  m        v              1/(1-b1^t)  1/(1-b2^t)   m^           v^
 *   1  0.05     0.00025        10          1000         0.5          0.25
 *   2  0.046    0.00024985     5.26315789  500.250125   0.242105263  0.124987494
 *   3  0.0409   0.00024962515  3.6900369   333.666889   0.150922509  0.0832916472
 * element 1: m = -0.1, -0.04, 0.164;  v = 0.001, 0.001249, 0.005247751
 *            m^ = -1, -0.210526316, 0.605166052;  v^ = 1, 0.624812406, 1.75100075 */

static void test_adam(void **state)
{
    (void)state;
    /* w <- w - lr m^ / (sqrt(v^) + eps)
     * w1 = 1 - 0.1 * 0.5 / (0.5 + 1e-6) = 0.9000002
     * w2 = w1 - 0.1 * 0.242105263 / (0.353535704 + 1e-6) = 0.831519259
     * w3 = w2 - 0.1 * 0.150922509 / (0.288602231 + 1e-6) = 0.779225268
     * element 1: -1.9000001, -1.87336643, -1.91909957 */
    const double want[3][2] = {
        {0.9000002, -1.9000001}, {0.831519259, -1.87336643}, {0.779225268, -1.91909957}};
    expect_steps("adam", 0.1f, want);
}

static void test_adamax(void **state)
{
    (void)state;
    /* u <- max(0.999 u, |g|), w <- w - lr/(1 - b1^t) m / u
     * u1 = 0.5         w1 = 1 - 0.1 * 10 * 0.05 / 0.5 = 0.9
     * u2 = 0.4995      w2 = 0.9 - 0.1 * 5.26315789 * 0.046 / 0.4995 = 0.851530478
     * u3 = 0.4990005   w3 = w2 - 0.1 * 3.6900369 * 0.0409 / 0.4990005 = 0.821285516
     * element 1: u = 1, 0.999, 2;  w = -1.9, -1.87892629, -1.9091846 */
    const double want[3][2] = {
        {0.9, -1.9}, {0.851530478, -1.87892629}, {0.821285516, -1.9091846}};
    expect_steps("adamax", 0.1f, want);
}

static void test_nadam(void **state)
{
    (void)state;
    /* m_ = b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t), w <- w - lr m_ / (sqrt(v^) + eps)
     * 1/(1 - b1^(t+1)) = 5.26315789, 3.6900369, 2.90782204 for t = 1, 2, 3
     * 1: m_ = 0.9*0.05*5.26315789 + 0.1*0.5*10 = 0.736842105
     *    w1 = 1 - 0.0736842105 / (0.5 + 1e-6) = 0.852631874
     * 2: m_ = 0.9*0.046*3.6900369 + 0.1*0.01*5.26315789 = 0.158030686
     *    w2 = w1 - 0.0158030686 / (0.353535704 + 1e-6) = 0.807931936
     * 3: m_ = 0.9*0.0409*2.90782204 - 0.1*0.005*3.6900369 = 0.105191911
     *    w3 = w2 - 0.0105191911 / (0.288602231 + 1e-6) = 0.771483398
     * element 1: -1.85263173, -1.86911807, -1.95732495 */
    const double want[3][2] = {
        {0.852631874, -1.85263173}, {0.807931936, -1.86911807}, {0.771483398, -1.95732495}};
    expect_steps("nadam", 0.1f, want);
}

static void test_amsgrad(void **state)
{
    (void)state;
    /* vmax <- max(vmax, v), w <- w - lr m^ / (sqrt(vmax / (1 - b2^t)) + eps)
     * vmax stays 0.00025 in element 0 (v falls), so unlike Adam:
     * w1 = 0.9000002 (as Adam)
     * w2 = w1 - 0.1 * 0.242105263 / (sqrt(0.00025 * 500.250125) + 1e-6)
     *    = w1 - 0.0242105263 / 0.353642812 = 0.831539806
     * w3 = w2 - 0.1 * 0.150922509 / (sqrt(0.00025 * 333.666889) + 1e-6) = 0.779285034
     * element 1: v rises every step, vmax = v: the same as Adam */
    const double want[3][2] = {
        {0.9000002, -1.9000001}, {0.831539806, -1.87336643}, {0.779285034, -1.91909957}};
    expect_steps("amsgrad", 0.1f, want);
}

static void test_adamw(void **state)
{
    (void)state;
    /* w <- w - eta (alpha m^ / (sqrt(v^) + eps) + lambda w), alpha = lr = 0.1 so eta = 1,
     * lambda = 0.01 (the decay uses the w before the step):
     * w1 = 1 - (0.0999998 + 0.01) = 0.8900002
     * w2 = w1 - (0.0684807 + 0.008900002) = 0.812619257
     * w3 = w2 - (0.0522941 + 0.00812619257) = 0.752199073
     * element 1: -1.8800001, -1.83456643, -1.86195391 */
    const double want[3][2] = {
        {0.8900002, -1.8800001}, {0.812619257, -1.83456643}, {0.752199073, -1.86195391}};
    expect_steps("adamw", 0.1f, want);
}

/* eps's place in the denominator. The three-step tests above use eps = 1e-6, whose effect
 * on w (about 1e-7) is below their 2e-6 tolerance: they pass with eps dropped or moved
 * inside the root. Here eps = 0.25 is as large as sqrt(v^) itself, so each of the three
 * places gives a w that differs from the others by 0.02 or more (10^4 times the tolerance):
 * one step from w = 1 with g = 0.25 and lr = 0.5. At t = 1 the bias corrections undo the
 * averages (m^ = g, v^ = g^2), so every denominator below is sqrt(v^) + eps = 0.5,
 * against sqrt(v^ + eps) = 0.559017 (eps inside) and sqrt(v^) = 0.25 (eps dropped). */
static const gd_optim_hparams HP_EPS = {
    .lr = 0.5, .beta1 = 0.9, .beta2 = 0.999, .eps = 0.25, .weight_decay = 0.01};

/* One step of `name` under HP_EPS from a state whose slot `slot` is preset (slot < 0: the
 * zero state), against want. */
static void expect_eps_step(const char *name, int slot, float preset, double want)
{
    gd_optim o;
    assert_int_equal(gd_optim_create(&o, name, &HP_EPS, 1), 0);
    if (slot >= 0)
        o.state[slot] = preset;
    float w = 1.0f, g = 0.25f;
    gd_optim_step(&o, &w, &g, 0.5f);
    if (fabs(w - want) > 2e-6)
        fail_msg("%s: w = %.9g, want %.9g (is eps outside the root?)", name, w, want);
    gd_optim_destroy(&o);
}

static void test_adam_eps(void **state)
{
    (void)state;
    /* w = 1 - 0.5 * 0.25 / (0.25 + 0.25) = 0.75  (eps inside: 0.776393; dropped: 0.5) */
    expect_eps_step("adam", -1, 0, 0.75);
}

static void test_adagrad_eps(void **state)
{
    (void)state;
    /* G = 0.0625, w = 1 - 0.5 * 0.25 / (0.25 + 0.25) = 0.75  (inside: 0.776393; dropped: 0.5) */
    expect_eps_step("adagrad", -1, 0, 0.75);
}

static void test_nadam_eps(void **state)
{
    (void)state;
    /* m = 0.025, m_ = 0.9 * 0.025 / (1 - 0.81) + 0.1 * 0.25 / 0.1 = 0.368421053
     * w = 1 - 0.5 * 0.368421053 / (0.25 + 0.25) = 0.631578947
     * (inside: 1 - 0.184210526 / 0.559017 = 0.670474193; dropped: 0.263157895) */
    expect_eps_step("nadam", -1, 0, 0.631578947);
}

static void test_amsgrad_eps(void **state)
{
    (void)state;
    /* The state's running maximum (slot 2) starts at 0.0005625, above the new v = 6.25e-5:
     * vmax^ = 1000 * 0.0005625 = 0.5625, so the denominator is sqrt(0.5625) + eps = 1 and
     * w = 1 - 0.5 * 0.25 / 1 = 0.875  (inside: 1 - 0.125 / 0.901388 = 0.861325;
     * dropped: 1 - 0.125 / 0.75 = 0.833333; v instead of vmax: 0.75) */
    expect_eps_step("amsgrad", 2, 0.0005625f, 0.875);
}

static void test_adamw_eps(void **state)
{
    (void)state;
    /* eta = lr / alpha = 1: w = 1 - (0.5 * 0.25 / (0.25 + 0.25) + 0.01 * 1) = 0.74
     * (inside: 0.766393; dropped: 0.49) */
    expect_eps_step("adamw", -1, 0, 0.74);
}

/* AdamW's decay follows the schedule multiplier lr/alpha, not alpha itself. */
static void test_adamw_decay_follows_schedule(void **state)
{
    (void)state;
    gd_optim o;
    gd_optim_hparams hp = HP;
    hp.weight_decay = 0.5;
    assert_int_equal(gd_optim_create(&o, "adamw", &hp, 1), 0);
    float w = 2.0f, g = 0.0f; /* g = 0: m^ = 0, only the decay moves w */
    gd_optim_step(&o, &w, &g, 0.05f); /* eta = 0.05 / 0.1 = 0.5: w = 2 - 0.5 * 0.5 * 2 = 1.5 */
    assert_float_equal(w, 1.5f, 1e-6);
    gd_optim_destroy(&o);
}

/* AdaMax has no eps: a parameter whose gradients were all 0 must not become 0/0. */
static void test_adamax_zero_gradient(void **state)
{
    (void)state;
    gd_optim o;
    assert_int_equal(gd_optim_create(&o, "adamax", &HP, 1), 0);
    float w = 3.0f, g = 0.0f;
    for (int i = 0; i < 3; i++)
        gd_optim_step(&o, &w, &g, 0.1f);
    assert_float_equal(w, 3.0f, 0);
    gd_optim_destroy(&o);
}

static void test_registry(void **state)
{
    (void)state;
    const char *all[] = {"sgd",  "momentum", "nesterov", "adagrad", "adadelta", "rmsprop",
                         "adam", "adamax",   "nadam",    "amsgrad", "adamw"};
    char names[256];
    snprintf(names, sizeof names, "|%s|", gd_optim_names());
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char bar[32];
        snprintf(bar, sizeof bar, "|%s|", all[i]);
        assert_non_null(strstr(names, bar));
        const gd_optim_ops *ops = gd_optim_find(all[i]);
        assert_non_null(ops);
        assert_true(ops->default_lr > 0);
    }
    assert_float_equal(gd_optim_find("sgd")->default_lr, 0.1, 0);
    assert_float_equal(gd_optim_find("adadelta")->default_lr, 1.0, 0);
    assert_null(gd_optim_find("adamm"));
}

static void test_create_errors(void **state)
{
    (void)state;
    gd_optim o;
    assert_int_equal(gd_optim_create(&o, "adamm", &HP, 4), 2);
    gd_optim_hparams hp = HP;
    hp.beta2 = 1.0;
    assert_int_equal(gd_optim_create(&o, "adam", &hp, 4), 2);
}

/* The state is flat: n * slots floats, zero at the start, restorable as a whole. */
static void test_state_is_flat_and_restorable(void **state)
{
    (void)state;
    gd_optim a, b;
    assert_int_equal(gd_optim_create(&a, "amsgrad", &HP, 2), 0);
    assert_int_equal(gd_optim_state_len(&a), 6);
    float wa[2] = {1, -2}, wb[2];
    float g1[2] = {0.5f, -1}, g2[2] = {0.01f, 0.5f};
    gd_optim_step(&a, wa, g1, 0.1f);
    /* "checkpoint" a into b, then both take the same step */
    assert_int_equal(gd_optim_create(&b, "amsgrad", &HP, 2), 0);
    memcpy(b.state, a.state, gd_optim_state_len(&a) * sizeof(float));
    b.t = a.t;
    memcpy(wb, wa, sizeof wa);
    gd_optim_step(&a, wa, g2, 0.1f);
    gd_optim_step(&b, wb, g2, 0.1f);
    assert_memory_equal(wa, wb, sizeof wa);
    gd_optim_destroy(&a);
    gd_optim_destroy(&b);
}

static void test_sumsq_and_clip(void **state)
{
    (void)state;
    float g[2] = {3, 4};
    double norm = sqrt(gd_sumsq(g, 2));
    assert_float_equal(norm, 5.0, 1e-12);
    gd_clip_by_norm(g, 2, norm, 10); /* under the cap: unchanged */
    assert_float_equal(g[0], 3, 0);
    gd_clip_by_norm(g, 2, norm, 1); /* scaled by 1/5 to norm 1 */
    assert_float_equal(g[0], 0.6f, 1e-7);
    assert_float_equal(g[1], 0.8f, 1e-7);
}

/* The fused divide-and-norm pass equals the two loops it replaces, to the bit, also for a
 * length that is not a multiple of the eight partial sums. */
static void test_scale_sumsq_equals_two_passes(void **state)
{
    (void)state;
    enum { N = 21 };
    float a[N], b[N];
    for (int i = 0; i < N; i++)
        a[i] = b[i] = (float)(i - 7) * 0.37f + 1e-3f * (float)(i * i);
    const float inv = 1.0f / 3.0f;
    double fused = gd_scale_sumsq(a, N, inv);
    for (int i = 0; i < N; i++)
        b[i] *= inv;
    double separate = gd_sumsq(b, N);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(&fused, &separate, sizeof fused);
}

/* The update's first pass divides the sum by the count, adds the penalties to the weights
 * only, and returns the norm of the result:
 * w = (2, -1 | 3), g = (4, 8 | -2) summed over 4 samples, l2 = 0.5, l1 = 0.25, 2 weights:
 *   g / 4 = (1, 2 | -0.5);  + l2 w = (2, 1.5 | -0.5);  + l1 sign(w) = (2.25, 1.25 | -0.5)
 *   penalty = 0.5/2 (4 + 1) + 0.25 (2 + 1) = 2;  sumsq = 5.0625 + 1.5625 + 0.25 = 6.875 */
static void test_update_prepare(void **state)
{
    (void)state;
    gd_update u = {.nparams = 3, .nweights = 2, .l2 = 0.5, .l1 = 0.25};
    float w[3] = {2, -1, 3}, g[3] = {4, 8, -2};
    double penalty = -1;
    assert_float_equal(gd_update_prepare(&u, w, 0, 3, g, 4, &penalty), 6.875, 1e-12);
    assert_float_equal(penalty, 2, 1e-12);
    assert_float_equal(g[0], 2.25f, 0);
    assert_float_equal(g[1], 1.25f, 0);
    assert_float_equal(g[2], -0.5f, 0);
    /* a server's slice past the weights: divided, no penalty */
    float gb[1] = {-2};
    assert_float_equal(gd_update_prepare(&u, w, 2, 1, gb, 4, &penalty), 0.25, 1e-12);
    assert_float_equal(penalty, 0, 0);
    assert_float_equal(gb[0], -0.5f, 0);
}

static void test_l1_penalty(void **state)
{
    (void)state;
    float w[3] = {2, -0.5f, 0}, g[3] = {1, 1, 1};
    /* penalty 0.1 * (2 + 0.5 + 0) = 0.25; g += 0.1 sign(w) with sign(0) = 0 */
    assert_float_equal(gd_l1_penalty(w, g, 3, 0.1), 0.25, 1e-7);
    assert_float_equal(g[0], 1.1f, 1e-7);
    assert_float_equal(g[1], 0.9f, 1e-7);
    assert_float_equal(g[2], 1.0f, 0);
    assert_float_equal(gd_l1_penalty(w, g, 3, 0), 0, 0);
}

static void test_noise_stddev(void **state)
{
    (void)state;
    /* sqrt(eta / (1 + t)^gamma): t = 0 gives sqrt(eta); t = 3, gamma 0.5: sqrt(1 / 2) */
    assert_float_equal(gd_grad_noise_stddev(0.3, 0.55, 0), sqrt(0.3), 1e-12);
    assert_float_equal(gd_grad_noise_stddev(1.0, 0.5, 3), sqrt(0.5), 1e-12);
    assert_float_equal(gd_grad_noise_stddev(0.01, 0.55, 99), sqrt(0.01 / pow(100, 0.55)), 1e-12);
}

/* The noise added over many draws has mean 0 and variance eta / (1 + t)^gamma. With
 * n = 200000 the sample variance's standard error is var * sqrt(2/n) = 0.32% of var;
 * the test allows 5 standard errors (and 5 for the mean), so it fails by chance with
 * probability below 1e-6 (and, the stream being seeded, never flickers). */
static void test_noise_variance(void **state)
{
    (void)state;
    enum { N = 200000 };
    float *g = calloc(N, sizeof *g);
    assert_non_null(g);
    gd_rng rng;
    gd_rng_seed(&rng, 42, 0, GD_RNG_NOISE);
    double var = 0.5 / pow(1 + 7.0, 0.55); /* eta 0.5, gamma 0.55, t 7 */
    gd_add_grad_noise(g, N, gd_grad_noise_stddev(0.5, 0.55, 7), &rng);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < N; i++) {
        sum += g[i];
        sq += (double)g[i] * g[i];
    }
    double mean = sum / N, sample_var = sq / N - mean * mean;
    assert_true(fabs(mean) < 5 * sqrt(var / N));
    assert_true(fabs(sample_var - var) < 5 * var * sqrt(2.0 / N));
    free(g);
}

/* Every rank seeds the noise stream with rank 0, so the replicas add the same noise. */
static void test_noise_shared_stream(void **state)
{
    (void)state;
    gd_rng a, b;
    gd_rng_seed(&a, 7, 0, GD_RNG_NOISE);
    gd_rng_seed(&b, 7, 0, GD_RNG_NOISE);
    float ga[4] = {0}, gb[4] = {0};
    gd_add_grad_noise(ga, 4, 1.0, &a);
    gd_add_grad_noise(gb, 4, 1.0, &b);
    assert_memory_equal(ga, gb, sizeof ga);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_momentum),
        cmocka_unit_test(test_nesterov),
        cmocka_unit_test(test_adagrad),
        cmocka_unit_test(test_adadelta),
        cmocka_unit_test(test_rmsprop),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_adamax),
        cmocka_unit_test(test_nadam),
        cmocka_unit_test(test_amsgrad),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_adam_eps),
        cmocka_unit_test(test_adagrad_eps),
        cmocka_unit_test(test_nadam_eps),
        cmocka_unit_test(test_amsgrad_eps),
        cmocka_unit_test(test_adamw_eps),
        cmocka_unit_test(test_adamw_decay_follows_schedule),
        cmocka_unit_test(test_adamax_zero_gradient),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_state_is_flat_and_restorable),
        cmocka_unit_test(test_sumsq_and_clip),
        cmocka_unit_test(test_scale_sumsq_equals_two_passes),
        cmocka_unit_test(test_update_prepare),
        cmocka_unit_test(test_l1_penalty),
        cmocka_unit_test(test_noise_stddev),
        cmocka_unit_test(test_noise_variance),
        cmocka_unit_test(test_noise_shared_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
