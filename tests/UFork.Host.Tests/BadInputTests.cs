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
        { ["frobnicate"], "ufork: Unrecognized command or argument 'frobnicate'." },
        { ["run"], "ufork: run needs a command to start, e.g. ufork run -w 2 -- python3 app.py" },
        { ["run", "--", "/nonexistent/program"], "ufork: /nonexistent/program does not exist" },
        { ["run", "--", "no-such-command-anywhere"], "ufork: no-such-command-anywhere: command not found on PATH" },
        { ["run", "-w", "0", "--", "true"], "ufork: --workers must be a positive integer, not '0'" },
        { ["run", "-w", "lots", "--", "true"], "ufork: --workers must be a positive integer, not 'lots'" },
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
    [InlineData("ufork.workers = many", "ufork: ufork.workers must be a positive integer or auto, not 'many'")]
    [InlineData("ufork { shutdown.grace = ${nowhere} }", "does not parse: ")]
    public async Task A_bad_config_file_is_named(string hocon, string message)
    {
        var config = Path.GetTempFileName();
        await File.WriteAllTextAsync(config, hocon);
        await using var ufork = UForkProcess.Start("run", "--config", config, "--", "true");

        Assert.Equal(2, await ufork.WaitForExitAsync(Patience));
        Assert.Contains(message, Assert.Single(ufork.Stderr));
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
