// Walks esp_sync's views in the web client (tests/test_views_browser.py fills
// in the steps). A step fails on: a rejected doAction, a failed RPC, an error
// dialog, or its view not showing up. Every failure is reported at the end in
// one console.error (which fails the HttpCase); uncaught errors fail at once.
(async () => {
    const steps = __STEPS__;
    const env = odoo.__WOWL_DEBUG__.root.env;
    const { rpcBus } = odoo.loader.modules.get("@web/core/network/rpc");
    const failures = [];
    let current = "start URL";
    let pending = 0;
    let rpcErrors = [];
    rpcBus.addEventListener("RPC:REQUEST", () => pending++);
    rpcBus.addEventListener("RPC:RESPONSE", ({ detail }) => {
        pending--;
        if (detail.error) {
            const data = detail.error.data || {};
            rpcErrors.push(data.message || detail.error.message || "RPC error");
        }
    });
    // A console warning (a missing widget, a bad option) is a failure too.
    const warn = console.warn.bind(console);
    console.warn = (...args) => {
        failures.push(`${current}: console warning: ${args.map(String).join(" ")}`);
        warn(...args);
    };
    const frame = () => new Promise((r) => setTimeout(() => requestAnimationFrame(r)));
    async function settle() {
        for (let i = 0; i < 600; i++) {
            await frame();
            if (pending <= 0 && i > 3) {
                return;
            }
        }
        throw new Error("requests still pending after 10 seconds");
    }
    function check(label, root, view, expect) {
        const problems = [...rpcErrors];
        if (document.querySelector(".o_error_dialog")) {
            problems.push("error dialog: " + document.querySelector(".o_error_dialog").innerText);
        }
        if (!root) {
            problems.push("no view rendered");
        } else if (!root.querySelector(view ? `.o_${view}_view` : ".o_view_controller")) {
            problems.push(`no ${view || "view"} rendered`);
        } else if (expect && !root.querySelector(expect)) {
            problems.push(`no ${expect}`);
        }
        if (problems.length) {
            failures.push(`${label}: ${problems.join("; ")}`);
        }
        return !problems.length;
    }
    async function clickTabs(root) {
        // Notebook pages render when shown: show each one.
        for (const tab of root.querySelectorAll(".o_notebook_headers .nav-link")) {
            tab.click();
            await settle();
        }
    }

    async function findButton(root, actionId) {
        // A wizard button of the form, looked for on every notebook page.
        const selector = `button[type="action"][name="${actionId}"]`;
        if (root.querySelector(selector)) {
            return root.querySelector(selector);
        }
        for (const tab of root.querySelectorAll(".o_notebook_headers .nav-link")) {
            tab.click();
            await settle();
            if (root.querySelector(selector)) {
                return root.querySelector(selector);
            }
        }
    }
    async function pressWizards(label, root, actionIds) {
        for (const actionId of actionIds || []) {
            const button = await findButton(root, actionId);
            if (!button) {
                failures.push(`${label}: no button for wizard action ${actionId}`);
                continue;
            }
            rpcErrors = [];
            button.click();
            await waitFor(".o_dialog .o_view_controller, .o_error_dialog");
            const dialog = [...document.querySelectorAll(".o_dialog")].at(-1);
            check(`${label} > ${button.innerText.trim()}`, dialog, "form");
            env.services.dialog.closeAll();
            await settle();
            wizardsOpened++;
        }
    }
    async function waitFor(selector) {
        for (let i = 0; i < 400 && !document.querySelector(selector); i++) {
            await frame();
        }
        await settle();
    }
    const action = env.services.action;

    // The start URL is the exception list, grouped by owner team by default.
    await waitFor(".o_list_view .o_group_name");
    const groups = [...document.querySelectorAll(".o_list_view .o_group_name")];
    if (!groups.some((g) => /Marketing|Operations|IT|Sales/.test(g.innerText))) {
        failures.push("start URL: exception list not grouped by owner team");
    }

    let done = 0;
    let wizardsOpened = 0;
    for (const step of steps) {
        rpcErrors = [];
        current = step.label;
        try {
            if (step.button) {
                // A button of a record: the server answers with the action.
                await action.doActionButton(step.button);
            } else {
                await action.doAction(step.action, { ...step.options, clearBreadcrumbs: true });
            }
            await settle();
            const dialog = [...document.querySelectorAll(".o_dialog")].at(-1);
            const root = dialog || document.querySelector(".o_action_manager");
            const view = step.view || "";
            if (check(step.label, root, view, step.expect) && root.querySelector(".o_form_view")) {
                await clickTabs(root);
                check(step.label + " (tabs)", root, view);
                await pressWizards(step.label, root, step.wizards);
            }
            if (dialog) {
                env.services.dialog.closeAll();
                await settle();
            }
            done++;
        } catch (error) {
            failures.push(`${step.label}: ${error && (error.message || error)}`);
        }
    }
    console.log(`esp_sync views: ${done}/${steps.length} steps, ${wizardsOpened} wizard buttons`);
    if (failures.length) {
        console.error("esp_sync view errors:\n" + failures.join("\n"));
    } else {
        console.log("test successful");
    }
})();
