// Node-RED as the ingest benchmark runs it: loopback only, no editor, no admin API, log to stdout.
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: Number(process.env.PARKLOTSE_BENCH_UI_PORT || 1880),
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    flowFile: "flows.json",
    credentialSecret: false,
    logging: { console: { level: "info", metrics: false, audit: false } },
};
