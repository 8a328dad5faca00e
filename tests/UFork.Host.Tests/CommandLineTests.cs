using System.Text.Json;
using Mono.Unix.Native;
using UFork.Control;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>The command line as people expect it: help, short forms, and answers a program can read.</summary>
public sealed class CommandLineTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly string[] Sleepers = ["--", "/bin/sh", "-c", "exec sleep 60"];

    [Fact]
    public async Task Bare_ufork_prints_help_on_stdout_and_exits_0()
    {
        await using var ufork = UForkProcess.Start();

        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
        Assert.Empty(ufork.Stderr);
        Assert.Contains(ufork.Stdout, l => l.StartsWith("Usage:"));
        foreach (var command in new[] { "run", "serve", "ctl" })
            Assert.Contains(ufork.Stdout, l => l.TrimStart().StartsWith(command + " "));
    }

    [Fact]
    public async Task Ctl_help_lists_every_command_without_an_arbiter()
    {
        using var directory = new TempDirectory();
        var nowhere = directory.File("none.sock");

        var help = await CtlResult.RunAsync(["ctl", "--control", nowhere, "help"]);
        var json = await CtlResult.RunAsync(["ctl", "--control", nowhere, "--json", "help"]);

        Assert.Equal(0, help.Exit);
        Assert.Equal("", help.Stderr);
        foreach (var (usage, _) in ArbiterCommand.Commands)
            Assert.Contains($"  {usage} ", help.Stdout);
        Assert.Contains("  log LEVEL ", help.Stdout);
        Assert.Equal(0, json.Exit);
        Assert.Equal(ArbiterCommand.Commands.Select(c => c.Usage),
            JsonDocument.Parse(json.Stdout).RootElement.EnumerateArray().Select(c => c.GetProperty("usage").GetString()));
    }

    [Fact]
    public async Task With_json_ctl_errors_are_json_on_stdout()
    {
        using var directory = new TempDirectory();
        var nowhere = directory.File("none.sock");

        var noArbiter = await CtlResult.RunAsync(["ctl", "--control", nowhere, "--json", "status"]);
        var slip = await CtlResult.RunAsync(["ctl", "--control", nowhere, "--json", "stauts"]);

        Assert.Equal(new CtlResult(1, JsonError($"no arbiter listens on {nowhere}: there is no such socket"), ""), noArbiter);
        Assert.Equal(new CtlResult(2, JsonError("unknown command 'stauts'; did you mean status?"), ""), slip);
    }

    [Fact]
    public async Task Workers_auto_starts_cores_minus_one_and_at_least_two()
    {
        var expected = Math.Max(Environment.ProcessorCount - 1, 2);
        await using var ufork = UForkProcess.Start(["run", "-w", "auto", .. Sleepers]);

        Assert.Equal(expected, (await ufork.WaitForWorkersAsync(expected, Patience)).Count);
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
        Assert.Equal(expected, ufork.WorkerPids.Count);
    }

    [Fact]
    public async Task Bind_colon_port_listens_on_every_interface()
    {
        await using var ufork = UForkProcess.Start(["run", "-w", "1", "--bind", ":0", .. Sleepers]);

        var listening = await ufork.WaitForLineAsync(l => l.StartsWith("[ufork] listening on "), Patience);

        Assert.Matches(@"^\[ufork\] listening on 0\.0\.0\.0:\d+ ", listening);
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Ctl_takes_a_slot_as_status_shows_it_or_as_a_number()
    {
        using var directory = new TempDirectory();
        var socket = directory.File("ctl.sock");
        await using var ufork = UForkProcess.Start(["run", "-w", "2", "--control", socket, .. Sleepers]);
        await ufork.WaitForLineAsync(l => l.StartsWith("[ufork] arbiter pid "), Patience);

        var named = await CtlResult.RunAsync(["ctl", "--control", socket, "kill", "w0"]);
        var numbered = await CtlResult.RunAsync(["ctl", "--control", socket, "kill", "1"]);

        Assert.Equal(new CtlResult(0, "sent SIGKILL to w0", ""), named);
        Assert.Equal(new CtlResult(0, "sent SIGKILL to w1", ""), numbered);
        Assert.Equal(new CtlResult(0, "stopped", ""), await CtlResult.RunAsync(["ctl", "--control", socket, "stop"]));
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task A_foreground_arbiter_without_a_control_socket_says_how_to_reach_it_in_one_line()
    {
        await using var ufork = UForkProcess.Start(["run", "-w", "1", .. Sleepers]);

        var line = await ufork.WaitForLineAsync(l => l.StartsWith("[ufork] arbiter pid "), Patience);

        Assert.Equal($"[ufork] arbiter pid {ufork.Pid}: no control socket; steer it with signals, " +
                     "or start it with --control PATH or --pidfile PATH to use ufork ctl", line);
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
    }

    private static string JsonError(string error) => JsonSerializer.Serialize(new { ok = false, error });
}
