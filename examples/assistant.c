/*
 * examples/assistant.c - the skeleton of an assistant on libintent: commands come in, each
 * is answered on a thread pool without blocking the reader, the components its labels need
 * are loaded (each once, however many commands ask at the same time) and let go, idle ones
 * are unloaded, and corrections retrain the model in the background while answers go on.
 *
 *   make && build/examples/assistant                    # trains on examples/assistant.tsv,
 *                                                       # then reads one command a line
 *   build/examples/assistant --model m.intent "can you see my screen" "play some jazz"
 *   echo '!SHOPPING order me a large pizza' | build/examples/assistant   # a correction
 *
 * The pieces, in the order a command meets them (each is a section below):
 *   1. The registry of components (intent_components_*): what each label needs loaded,
 *      with dependencies, memory costs, idle timeouts and load/unload callbacks. Here the
 *      callbacks print and sleep a little instead of starting real models.
 *   2. The service (intent_service) holds the model that answers now; a retrained model
 *      replaces it atomically while answers go on.
 *   3. The pool (intent_pool) answers commands on its own threads: intent_pool_submit
 *      copies the text and returns at once, and the callback gets the labels.
 *   4. In the callback: acquire the components the labels need, "handle" the command,
 *      release them (they stay loaded, idle, for the next command).
 *   5. A housekeeping thread unloads components idle past their timeout.
 *   6. A line "!LABELS text" is a correction: appended to the feedback log (durable), and
 *      every --retrain-after corrections the service retrains in the background from
 *      the log and swaps the new model in when it is done.
 *   7. At the end of input: wait for the answers and the retrain, print the stats, stop.
 *
 * Output lines start with the command's number in the pool ([3]), or with what spoke:
 * [load] and [unload] (the component callbacks), [idle] (housekeeping), [feedback] and
 * [retrain]. Commands run in parallel, so lines of different commands may interleave.
 *
 * Build outside this tree: cc assistant.c -Iinclude build/libintent.a -lutf8proc -lm -lpthread
 */
#include <intent.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MB (1ull << 20)
#define MAX_CORRECTION_LABELS 16

/* ---- printing: one line per call, so lines of different threads never mix ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap); /* keeps a byte for the newline */
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)(sizeof line - 2); /* cut short */
    line[n] = '\n';
    line[n + 1] = '\0';
    fputs(line, stdout); /* stdio locks the stream for the call: the line stays whole */
}

/* Appends to buf (cap bytes, *len used so far), cutting short rather than overflowing. */
static void add(char *buf, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- 1. the components ---------------------------------------------------------------
 *
 * The same assistant as examples/components.json (which `intent route` reads), built
 * with the C API instead of JSON. labels: the labels that need the component (a component
 * no label needs is loaded only as a dependency). The budget, 3 GiB, cannot hold the chat
 * model and the vision stack at once: switching between them unloads the least recently
 * used. */

typedef struct component {
    const char *name;
    const char *labels[2];   /* NULL-terminated */
    const char *depends[3];  /* NULL-terminated */
    unsigned memory_mb;
    unsigned idle_s;         /* unload after this long unused; 0: never for idleness */
    const char *what;
} component;

static const component COMPONENTS[] = {
    {"audio", {NULL}, {NULL}, 24, 600, "microphone and speaker streams"},
    {"stt", {"VOICE"}, {"audio"}, 480, 300, "speech to text"},
    {"tts", {"VOICE"}, {"audio"}, 120, 300, "text to speech"},
    {"screen", {NULL}, {NULL}, 40, 120, "screen capture"},
    {"camera", {NULL}, {NULL}, 60, 60, "webcam capture"},
    {"ocr", {"VISION"}, {"screen"}, 150, 300, "text on screen"},
    {"vision", {"VISION"}, {"screen", "camera"}, 1100, 180, "image description model"},
    {"files", {"FILES"}, {NULL}, 200, 600, "document index and search"},
    {"network", {NULL}, {NULL}, 16, 900, "HTTP client and credentials"},
    {"browser", {"BROWSER"}, {"network"}, 450, 180, "headless browser"},
    {"calendar", {"CALENDAR"}, {"network"}, 48, 900, "calendar sync"},
    {"email", {"EMAIL"}, {"network"}, 80, 600, "mail client"},
    {"weather", {"WEATHER"}, {"network"}, 8, 900, "weather client"},
    {"music", {"MUSIC"}, {"audio"}, 64, 900, "music player"},
    {"system", {"SYSTEM"}, {NULL}, 12, 0, "volume, brightness, lock"},
    {"llm", {"CHAT"}, {NULL}, 2400, 120, "chat model"},
};
#define N_COMPONENTS (sizeof COMPONENTS / sizeof COMPONENTS[0])
#define BUDGET_MB 3072

static size_t count(const char *const *list) {
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

/* The load callback: runs on the thread whose acquire needs the component (a pool
 * thread here), outside the registry's lock; a second command that needs it meanwhile
 * waits for this load instead of starting its own. Simulated: 5 ms plus 50 ms a GB. */
static int load_component(const char *name, void *user) {
    const component *k = user;
    double t0 = now_s();
    sleep_ms(5 + (long)k->memory_mb / 20);
    say("[load]    %-8s %5u MB  %s (%.0f ms)", name, k->memory_mb, k->what, (now_s() - t0) * 1e3);
    return 0; /* non-zero would fail the acquire: the command gets INTENT_ERR_COMPONENT */
}

static int unload_component(const char *name, void *user) {
    const component *k = user;
    say("[unload]  %-8s %5u MB  %s", name, k->memory_mb, k->what);
    return 0;
}

/* Builds the registry. idle_scale multiplies the idle timeouts (a demo uses 0.01 so
 * that a minute passes in 0.6 s). */
static int make_registry(double idle_scale, intent_components **out) {
    intent_components *reg;
    if (intent_components_new((uint64_t)BUDGET_MB * MB, &reg))
        return 1;
    for (size_t i = 0; i < N_COMPONENTS; i++) {
        const component *k = &COMPONENTS[i];
        intent_component_spec s = {0};
        s.name = k->name;
        s.labels = k->labels;
        s.n_labels = count(k->labels);
        s.depends = k->depends;
        s.n_depends = count(k->depends);
        s.memory = k->memory_mb * MB;
        s.idle_timeout_ms = (uint64_t)((double)k->idle_s * 1000.0 * idle_scale + 0.5);
        if (k->idle_s && !s.idle_timeout_ms)
            s.idle_timeout_ms = 1; /* 0 would mean "never" */
        s.load = load_component;
        s.unload = unload_component;
        s.user = (void *)k; /* handed back to the callbacks */
        if (intent_components_add(reg, &s)) {
            fprintf(stderr, "assistant: %s\n", intent_components_errmsg(reg));
            intent_components_free(reg);
            return 1;
        }
    }
    /* checks every dependency exists and that there is no cycle; fixes the load order */
    if (intent_components_validate(reg)) {
        fprintf(stderr, "assistant: %s\n", intent_components_errmsg(reg));
        intent_components_free(reg);
        return 1;
    }
    *out = reg;
    return 0;
}

/* ---- the assistant's state, shared by every thread ---- */

typedef struct assistant {
    intent_service *svc;
    intent_pool *pool;
    intent_components *reg;
    intent_feedback *log;      /* opened at the first correction */
    const char *log_path, *data_path;
    unsigned retrain_after;    /* corrections that start a retrain */
    float max_drop;

    pthread_mutex_t mu;        /* guards the fields below */
    pthread_cond_t changed;    /* in_flight fell, or a retrain ended */
    pthread_cond_t stop;       /* stopping was set */
    unsigned in_flight;        /* commands submitted and not yet answered */
    unsigned corrections;      /* corrections since the last retrain started */
    int retraining;            /* a retrain runs (set here, cleared by its callback) */
    int stopping;              /* tells housekeeping to end */
    long tick_ms;              /* housekeeping period */
} assistant;

/* One submitted command: the pool's callback gets it back as its user pointer. */
typedef struct command {
    assistant *a;
    char text[]; /* NUL-terminated */
} command;

static void command_done(assistant *a) {
    pthread_mutex_lock(&a->mu);
    a->in_flight--;
    pthread_cond_broadcast(&a->changed);
    pthread_mutex_unlock(&a->mu);
}

/* "screen camera ocr" for a list of component ids, "-" for none. */
static const char *names(const intent_components *reg, const uint32_t *ids, size_t n, char *buf,
                         size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        add(buf, cap, &len, "%s%s", i ? " " : "", intent_components_name(reg, ids[i]));
    return n ? buf : "-";
}

/* ---- 4. a command's answer: the pool calls this on one of its threads ----------------
 *
 * r lives for the call only. The callback holds up its worker (and the rest of the
 * worker's batch) while it runs, and loading a component may take seconds, so the pool is
 * made with batches of one (max_batch 1, see main): a slow load then delays only its own
 * worker's next request. A server answering thousands of requests a second would instead
 * hand the work to a queue of its own here and return. (The stats' latency runs from
 * submit to answer, so a command queued behind workers busy loading counts that wait.) */
static void on_answer(const intent_result *r, void *user) {
    command *cmd = user;
    assistant *a = cmd->a;
    unsigned long long seq = (unsigned long long)r->seq;
    if (r->status != INTENT_OK) { /* INTENT_ERR_NO_MODEL, INTENT_ERR_CANCELLED, ... */
        say("[%llu] \"%s\": not answered: %s", seq, cmd->text, intent_status_str(r->status));
        goto done;
    }

    /* The labels that apply are labels[0 .. n) with n = min(n_over, n_top); n_over 0 is
     * out of scope, and top[0] is then only the closest label. */
    size_t n = r->n_over < r->n_top ? r->n_over : r->n_top;
    char line[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        add(line, sizeof line, &len, "%s%s %.2f", i ? ", " : "", r->labels[i], (double)r->top[i].confidence);
    if (n == 0)
        add(line, sizeof line, &len, "out of scope (closest %s %.2f)", r->n_top ? r->labels[0] : "-",
            r->n_top ? (double)r->top[0].confidence : 0.0);
    say("[%llu] \"%s\" -> %s  (model v%llu, %.0f us)", seq, cmd->text, line, (unsigned long long)r->model_version,
        r->latency_us);
    if (n == 0) {
        say("[%llu] nothing to load: \"Sorry, I can't help with that.\"", seq);
        goto done;
    }

    /* Acquire what the labels need. It unloads idle components past their timeout (and,
     * least recently used first, as many as the budget needs), then loads what is missing
     * in dependency order and holds everything required, so housekeeping cannot unload it
     * under us. A component another command is loading right now is waited for, not
     * loaded twice.
     * By name, not intent_components_acquire_scores: r->top holds label ids of the model
     * that answered (version r->model_version), and the callback has no handle on that
     * model; after a swap the model served now may number its labels differently (a
     * retrain adds labels). The names in r->labels are right whatever is served. */
    intent_plan p;
    intent_error err;
    int rc = intent_components_acquire(a->reg, r->labels, n, &p, &err);
    char need[512], had[512], loaded[512], gone[512] = "-";
    size_t gl = 0;
    for (size_t i = 0; i < p.n_to_unload; i++)
        add(gone, sizeof gone, &gl, "%s%s (%s)", i ? " " : "", intent_components_name(a->reg, p.to_unload[i]),
            p.unload_why[i] == INTENT_UNLOAD_TIMEOUT ? "idle" : "budget");
    say("[%llu] plan: need %s; had %s; loaded %s; unloaded %s; memory %llu -> %llu MB of %llu", seq,
        names(a->reg, p.required, p.n_required, need, sizeof need),
        names(a->reg, p.loaded, p.n_loaded, had, sizeof had),
        names(a->reg, p.to_load, p.n_to_load, loaded, sizeof loaded), gone,
        (unsigned long long)(p.memory_before / MB), (unsigned long long)(p.memory_after / MB),
        (unsigned long long)(p.budget / MB));
    if (rc != INTENT_OK) { /* a load failed (p.load_failed says which), or over budget */
        say("[%llu] cannot handle it: %s", seq, err.message);
        intent_plan_free(&p);
        goto done;
    }

    /* "Handle" the command: name, per label, the components that serve it. */
    len = 0;
    line[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        add(line, sizeof line, &len, "%s%s by", i ? "; " : "", r->labels[i]);
        size_t before = len;
        for (size_t c = 0; c < N_COMPONENTS; c++)
            for (const char *const *l = COMPONENTS[c].labels; *l; l++)
                if (strcmp(*l, r->labels[i]) == 0)
                    add(line, sizeof line, &len, " %s", COMPONENTS[c].name);
        if (len == before) /* a label no component serves (a new one, learned from feedback) */
            add(line, sizeof line, &len, " the assistant itself");
    }
    say("[%llu] handled: %s", seq, line);

    /* Done with them: they become idle (last used now) and stay loaded for the next
     * command, until their idle timeout or the budget unloads them. */
    intent_components_release(a->reg, &p);
    intent_plan_free(&p);
done:
    free(cmd);
    command_done(a);
}

/* ---- 5. housekeeping: unload idle components, once a tick ---- */

static void *housekeeping(void *arg) {
    assistant *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until); /* the condition variable's clock */
        until.tv_sec += a->tick_ms / 1000;
        until.tv_nsec += (a->tick_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&a->stop, &a->mu, &until);
        if (a->stopping)
            break;
        pthread_mutex_unlock(&a->mu); /* never hold our lock across callbacks */
        size_t n_unloaded = 0;
        intent_error err;
        if (intent_components_unload_idle(a->reg, &n_unloaded, &err))
            say("[idle]    %s", err.message); /* that one stays loaded */
        else if (n_unloaded)
            say("[idle]    unloaded %zu component%s (idle past the timeout, or over the budget); %llu MB loaded",
                n_unloaded, n_unloaded == 1 ? "" : "s",
                (unsigned long long)(intent_components_memory(a->reg) / MB));
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- 6. corrections and the background retrain ---- */

/* Called once on the retrain's thread when it ends. On INTENT_OK the new model is already
 * serving: every batch the pool takes from now on answers with it. */
static void on_retrained(int status, const intent_retrain_report *rep, const char *message, uint64_t version,
                         void *user) {
    assistant *a = user;
    if (status == INTENT_OK)
        say("[retrain] model version %llu serving: learned %zu corrections (%zu new label%s); held-out "
            "exact-set accuracy %.1f%% -> %.1f%%",
            (unsigned long long)version, rep->n_feedback, rep->n_new_labels, rep->n_new_labels == 1 ? "" : "s",
            100.0 * rep->base_score, 100.0 * rep->new_score);
    else /* INTENT_ERR_REJECTED: the new model was worse; the served one stays */
        say("[retrain] %s: %s", intent_status_str(status), message);
    pthread_mutex_lock(&a->mu);
    a->retraining = 0;
    pthread_cond_broadcast(&a->changed);
    pthread_mutex_unlock(&a->mu);
}

/* Starts a retrain if enough corrections wait and none runs. Main thread only. */
static void maybe_retrain(assistant *a) {
    pthread_mutex_lock(&a->mu);
    int start = a->corrections >= a->retrain_after && !a->retraining;
    unsigned n = a->corrections;
    if (start) {
        a->retraining = 1;
        a->corrections = 0;
    }
    pthread_mutex_unlock(&a->mu);
    if (!start)
        return;
    /* The retrain reads the whole log (every correction so far, not only the last few)
     * and mixes the training data in so nothing else is forgotten; it starts from the
     * weights of the model served at that moment. */
    intent_retrain_opts o;
    intent_retrain_opts_init(&o);
    o.max_drop = a->max_drop;
    int rc = intent_service_retrain(a->svc, a->log_path, a->data_path, &o, on_retrained, a);
    /* The done callback runs just before the retrain's thread ends, and the service says
     * INTENT_ERR_BUSY until it has: the last retrain may still be finishing. */
    for (int tries = 0; rc == INTENT_ERR_BUSY && tries < 1000; tries++) {
        sleep_ms(1);
        rc = intent_service_retrain(a->svc, a->log_path, a->data_path, &o, on_retrained, a);
    }
    if (rc == INTENT_OK) {
        say("[retrain] started in the background after %u new correction%s; answers go on", n, n == 1 ? "" : "s");
        return;
    }
    say("[retrain] not started: %s", intent_status_str(rc));
    pthread_mutex_lock(&a->mu);
    a->retraining = 0;
    a->corrections += n; /* try again after the next correction */
    pthread_mutex_unlock(&a->mu);
}

/* "!LABELS text": LABELS is one or more names joined by ','. */
static void correction(assistant *a, char *line) {
    char *sp = strpbrk(line + 1, " \t");
    char *text = sp ? sp + strspn(sp, " \t") : NULL;
    if (!sp || !*text || sp == line + 1) {
        say("[feedback] usage: !LABEL[,LABEL...] the command as it should have been understood");
        return;
    }
    *sp = '\0';
    const char *labels[MAX_CORRECTION_LABELS];
    size_t n = 0;
    for (char *l = line + 1, *comma; l && n < MAX_CORRECTION_LABELS; l = comma ? comma + 1 : NULL) {
        comma = strchr(l, ',');
        if (comma)
            *comma = '\0';
        labels[n++] = l;
    }
    /* Opened at the first correction (made if missing; a torn tail a crash left is cut
     * off). One write(), fdatasynced, a record: durable when append returns; bad labels
     * are refused before the file is touched. */
    intent_error err;
    if (!a->log && intent_feedback_open(a->log_path, &a->log, &err)) {
        say("[feedback] not saved: %s", err.message);
        return;
    }
    if (intent_feedback_append(a->log, text, strlen(text), labels, n, &err)) {
        say("[feedback] not saved: %s", err.message);
        return;
    }
    pthread_mutex_lock(&a->mu);
    unsigned k = ++a->corrections;
    pthread_mutex_unlock(&a->mu);
    say("[feedback] saved %s <- \"%s\" (%u of %u before a retrain)", line + 1, text, k, a->retrain_after);
    maybe_retrain(a);
}

/* ---- 3. submitting a command: returns at once, the answer comes to on_answer ---- */

static void submit(assistant *a, const char *text) {
    size_t len = strlen(text);
    command *cmd = malloc(sizeof *cmd + len + 1);
    if (!cmd) {
        say("out of memory: \"%s\" dropped", text);
        return;
    }
    cmd->a = a;
    memcpy(cmd->text, text, len + 1);
    /* counted before submitting: the callback may run before submit even returns */
    pthread_mutex_lock(&a->mu);
    a->in_flight++;
    pthread_mutex_unlock(&a->mu);
    int rc = intent_pool_submit(a->pool, cmd->text, len, on_answer, cmd);
    if (rc == INTENT_OK)
        return;
    /* Never blocks: a full queue is INTENT_ERR_BUSY at once. An assistant sheds the load
     * (says "one moment") rather than stall the microphone. */
    say("[-] \"%s\": %s; say it again", text, intent_status_str(rc));
    free(cmd);
    command_done(a);
}

/* ---- 2. the model ---- */

/* Trains a model on the data file, or loads the model file, and makes it the served one
 * (version 1). */
static int serve_model(intent_service *svc, const char *model_path, const char *data_path) {
    intent_error err;
    if (model_path) {
        if (intent_service_load(svc, model_path, &err)) {
            fprintf(stderr, "assistant: %s\n", err.message);
            return 1;
        }
        say("model: loaded %s, serving as version 1", model_path);
        return 0;
    }
    intent_dataset *ds;
    intent_model *m;
    intent_train_opts o;
    if (intent_dataset_new(&ds))
        return 1;
    if (intent_dataset_read_file(ds, data_path, INTENT_FORMAT_AUTO)) {
        fprintf(stderr, "assistant: %s\n", intent_dataset_errmsg(ds));
        intent_dataset_free(ds);
        return 1;
    }
    intent_train_opts_init(&o);
    o.none_label = "oos"; /* examples labelled oos teach "out of scope" */
    double t0 = now_s();
    int rc = intent_train(ds, NULL, &o, &m, &err);
    intent_dataset_free(ds);
    if (rc) {
        fprintf(stderr, "assistant: training on %s: %s\n", data_path, err.message);
        return 1;
    }
    size_t n_labels = intent_model_n_labels(m);
    uint64_t version;
    if (intent_service_swap(svc, m, &version)) { /* on success the service owns m */
        intent_model_free(m);
        return 1;
    }
    say("model: trained on %s in %.1f s (%zu labels), serving as version %llu", data_path, now_s() - t0, n_labels,
        (unsigned long long)version);
    return 0;
}

/* ---- 7. the end: every answer, the retrain, the stats ---- */

static void finish(assistant *a) {
    pthread_mutex_lock(&a->mu);
    while (a->in_flight) /* every submitted command has had its callback */
        pthread_cond_wait(&a->changed, &a->mu);
    if (a->retraining)
        say("waiting for the retrain to finish");
    while (a->retraining)
        pthread_cond_wait(&a->changed, &a->mu);
    pthread_mutex_unlock(&a->mu);

    intent_stats st;
    if (intent_pool_stats(a->pool, &st) == INTENT_OK) {
        size_t need = intent_stats_format(&st, NULL, 0) + 1;
        char *buf = malloc(need);
        if (buf) {
            intent_stats_format(&st, buf, need);
            printf("== stats\n%s", buf);
            free(buf);
        }
        intent_stats_free(&st);
    }
    printf("== components: %llu MB still loaded\n", (unsigned long long)(intent_components_memory(a->reg) / MB));
}

/* ---- main ---- */

static const char USAGE[] =
    "usage: assistant [options] [COMMAND...]\n"
    "\n"
    "Answers each COMMAND, or each line of stdin when none is given: the labels, the\n"
    "components loaded for them, and who handled it. A line \"!LABELS text\" is a\n"
    "correction (LABELS joined by ','): saved to the feedback log, and every N of them\n"
    "retrain the model in the background. At the end of input: the serving stats.\n"
    "\n"
    "  --model FILE        the model to serve (default: train one on --data at start)\n"
    "  --data FILE         training data (default examples/assistant.tsv), also mixed\n"
    "                      into every retrain so nothing is forgotten\n"
    "  --feedback LOG      the feedback log (default assistant-feedback.log)\n"
    "  --retrain-after N   corrections that start a retrain (default 3)\n"
    "  --max-drop X        a retrain may lose this much held-out accuracy (default 0.05)\n"
    "  --threads N         pool threads (default 4)\n"
    "  --idle-scale X      multiply idle timeouts by X (default 1; 0.01 for a demo)\n";

static int number(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        return 1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *data_path = "examples/assistant.tsv", *log_path = "assistant-feedback.log";
    double retrain_after = 3, threads = 4, idle_scale = 1, max_drop = 0.05;
    int first_command = argc;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else if (strncmp(o, "--", 2) != 0) {
            first_command = i; /* the rest are commands */
            break;
        } else if (!v) {
            bad = 1;
        } else if (strcmp(o, "--model") == 0) {
            model_path = v;
        } else if (strcmp(o, "--data") == 0) {
            data_path = v;
        } else if (strcmp(o, "--feedback") == 0) {
            log_path = v;
        } else if (strcmp(o, "--retrain-after") == 0) {
            bad = number(v, 1, 1e6, &retrain_after);
        } else if (strcmp(o, "--max-drop") == 0) {
            bad = number(v, 0, 1, &max_drop);
        } else if (strcmp(o, "--threads") == 0) {
            bad = number(v, 1, INTENT_POOL_MAX_THREADS, &threads);
        } else if (strcmp(o, "--idle-scale") == 0) {
            bad = number(v, 0, 1e6, &idle_scale);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "assistant: bad option %s%s%s\n\n%s", o, v ? " " : "", v ? v : "", USAGE);
            return 2;
        }
        i++; /* the value */
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line as soon as it is said, also into a pipe */

    assistant a = {0};
    a.log_path = log_path;
    a.data_path = data_path;
    a.retrain_after = (unsigned)retrain_after;
    a.max_drop = (float)max_drop;
    /* housekeeping once a second, or as much faster as the idle timeouts are scaled */
    a.tick_ms = idle_scale < 1 ? (long)(1000 * idle_scale) : 1000;
    if (a.tick_ms < 10)
        a.tick_ms = 10;
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.changed, NULL);
    pthread_cond_init(&a.stop, NULL);

    int status = 1, rc;
    pthread_t hk;
    int hk_started = 0;
    if (make_registry(idle_scale, &a.reg))
        goto out;
    say("components: %zu, budget %d MB", intent_components_count(a.reg), BUDGET_MB);
    if (intent_service_new(&a.svc) || serve_model(a.svc, model_path, data_path))
        goto out;
    /* threads, queue of 64 waiting commands, batches of one (see on_answer) */
    rc = intent_pool_new(a.svc, (uint32_t)threads, 64, 1, &a.pool);
    if (rc) {
        fprintf(stderr, "assistant: pool: %s\n", intent_status_str(rc));
        goto out;
    }
    say("pool: %u threads; housekeeping every %ld ms", (unsigned)threads, a.tick_ms);
    if (pthread_create(&hk, NULL, housekeeping, &a) != 0)
        goto out;
    hk_started = 1;

    /* The reader: hands each command to the pool and goes straight back to reading. */
    if (first_command < argc) {
        for (int i = first_command; i < argc; i++)
            if (argv[i][0] == '!')
                correction(&a, argv[i]);
            else
                submit(&a, argv[i]);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            if (n == 0)
                continue;
            if (line[0] == '!')
                correction(&a, line);
            else
                submit(&a, line);
        }
        free(line);
    }
    finish(&a);
    status = 0;

out:
    if (hk_started) {
        pthread_mutex_lock(&a.mu);
        a.stopping = 1;
        pthread_cond_broadcast(&a.stop);
        pthread_mutex_unlock(&a.mu);
        pthread_join(hk, NULL);
    }
    /* the pool first (it answers whatever is queued; nothing is, after finish), then the
     * service it borrows: freeing a service stops a running retrain at its next epoch */
    intent_pool_free(a.pool, INTENT_POOL_DRAIN);
    intent_service_free(a.svc);
    intent_feedback_close(a.log);
    intent_components_free(a.reg); /* calls no unload callback: a real assistant would
                                      stop its components here */
    pthread_cond_destroy(&a.changed);
    pthread_cond_destroy(&a.stop);
    pthread_mutex_destroy(&a.mu);
    return status;
}
