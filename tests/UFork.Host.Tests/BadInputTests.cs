using System.Text.RegularExpressions;
using Mono.Unix.Native;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>Bad input: one line on stderr naming the problem, exit code 2, nothing started.</summary>
public sealed class BadInputTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static TheoryData<string[], string> Cases => new()
    {
        { ["run", "--bogus", "--", "true"], "ufork: unknown option --bogus" },
        { ["run", "-w", "2", "--bogus"], "ufork: unknown option --bogus" },
        { ["frobnicate"], "ufork: unknown command 'frobnicate'; try ufork --help" },
        { ["serv"], "ufork: unknown command 'serv'; did you mean serve?" },
        { ["rnu", "--", "true"], "ufork: unknown command 'rnu'; did you mean run?" },
        { ["ctl", "stauts"], "ufork: unknown command 'stauts'; did you mean status?" },
        { ["ctl", "kill", "wx"], "ufork: usage: kill SLOT, SLOT as w0 or 0" },
        { ["run", "-w", "auto", "--bind", "nowhere", "--", "true"], "ufork: --bind 'nowhere': expected HOST:PORT or unix:PATH" },
        { ["run"], "ufork: run needs a command to start, e.g. ufork run -w 2 -- python3 app.py" },
        { ["run", "--", "/nonexistent/program"], "ufork: /nonexistent/program does not exist" },
        { ["run", "--", "no-such-command-anywhere"], "ufork: no-such-command-anywhere: command not found on PATH" },
        { ["run", "-w", "0", "--", "true"], "ufork: --workers must be a positive integer or auto, not '0'" },
        { ["run", "-w", "lots", "--", "true"], "ufork: --workers must be a positive integer or auto, not 'lots'" },
        { ["run", "-w", "2000", "--", "true"], "ufork: --workers must be at most ufork.max-workers (1024), not '2000'" },
        { ["run", "--config", "/nonexistent.conf", "--", "true"], "ufork: config file /nonexistent.conf does not exist" },
        { ["worker", "--assembly", "app.dll", "--type", "App.Worker"], "ufork: worker runs inside a worker process that an arbiter started (see Arbiter.RunInteractiveAsync)" },
        { ["run", "--daemon", "--", "true"], "ufork: a daemon needs a log file (--log-file, or ufork.log.file): it has no terminal to print to" },
        { ["run", "--pidfile", "/nonexistent/ufork.pid", "--", "true"], "ufork: cannot write pidfile /nonexistent/ufork.pid: /nonexistent does not exist" },
        { ["ctl", "scale", "many"], "ufork: usage: scale N, with N a positive number of workers" },
        { ["ctl", "frobnicate"], "ufork: unknown command 'frobnicate'; try help" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Is_one_line_on_stderr_and_exit_code_2(string[] arguments, string message)
    {
        await using var ufork = UForkProcess.Start(arguments);

        Assert.Equal(2, await ufork.WaitForExitAsync(Patience));
        Assert.Equal([message], ufork.Stderr);
        Assert.Empty(ufork.Stdout);
    }

    [Fact]
    public async Task A_command_that_is_not_executable_is_named()
    {
        var script = Path.GetTempFileName();
        await using var ufork = UForkProcess.Start("run", "--", script);

        Assert.Equal(2, await ufork.WaitForExitAsync(Patience));
        Assert.Equal([$"ufork: {script} is not executable"], ufork.Stderr);
    }

    [Theory]
    [InlineData("ufork.workers = many", ": ufork.workers must be a positive integer or auto, not 'many'")]
    [InlineData("ufork { shutdown.grace = ${nowhere} }", " does not parse: ")]
    [InlineData("ufork {\n  workers = 3\n", " line 1: '{' is never closed")]
    [InlineData("ufork { workers = 3 }\n}\nufork.backlog = 5", " line 2: '}' closes nothing")]
    [InlineData("{", " line 1: '{' is never closed")]
    [InlineData("ufork {\n  log.files = [1, 2 }\n}", " line 2: '}' closes the '[' of line 2")]
    [InlineData("ufork.workerz = 3", ": ufork.workerz is not a uFork setting; did you mean ufork.workers?")]
    [InlineData("ufrok { workers = 3 }", ": ufrok is not a root that uFork knows; did you mean ufork?")]
    [InlineData("ufork.min-backoff = 1s", ": ufork.min-backoff is not a uFork setting; did you mean ufork.restart.min-backoff?")]
    [InlineData("ufork.restart { min-backoff = 1m, max-backoff = 30s }", ": ufork.restart.min-backoff (1m) must be at most ufork.restart.max-backoff (30s)")]
    [InlineData("ufork.heartbeat.interval = 0", ": ufork.heartbeat.interval must be from 10ms to 1d, not '0'")]
    [InlineData("ufork.heartbeat.interval = 60d", ": ufork.heartbeat.interval must be from 10ms to 1d, not '60d'")]
    [InlineData("ufork.heartbeat.timeout = 1s", ": ufork.heartbeat.timeout (1s) must be longer than ufork.heartbeat.interval (1s)")]
    [InlineData("ufork.shutdown.grace = 10", ": ufork.shutdown.grace = 10 has no unit: write 10s or 10ms")]
    [InlineData("ufork { workers = 5, max-workers = 4 }", ": ufork.workers (5) must be at most ufork.max-workers (4)")]
    [InlineData("ufork = 5", ": ufork must be a section, ufork { ... }, not '5'")]
    [InlineData("include \"nope.conf\"", ": include \"nope.conf\": {directory}/nope.conf does not exist")]
    public async Task A_bad_config_file_is_named_and_nothing_starts(string hocon, string problem)
    {
        using var directory = new TempDirectory();
        var config = directory.File("ufork.conf");
        await File.WriteAllTextAsync(config, hocon);
        await using var ufork = UForkProcess.Start("run", "--config", config, "--", "true");

        Assert.Equal(2, await ufork.WaitForExitAsync(Patience));
        // StartsWith: Akka's own words follow "does not parse: ".
        Assert.StartsWith($"ufork: config file {config}{problem.Replace("{directory}", directory.Path)}", Assert.Single(ufork.Stderr));
        Assert.Empty(ufork.Stdout);
    }

    [Fact]
    public async Task A_worker_entry_point_that_is_not_there_is_named_by_the_worker()
    {
        var ticker = Path.Combine(AppContext.BaseDirectory, "Ticker.dll");
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--",
            "dotnet", UForkProcess.UForkDll, "worker", "--assembly", ticker, "--type", "Samples.Nope");

        var complaint = await ufork.WaitForLineAsync(l => l.Contains(" err] "), Patience);

        Assert.Matches($@"^\[w0 \d+ err\] ufork: {Regex.Escape(ticker)} has no type Samples.Nope$", complaint);
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
    }
}
