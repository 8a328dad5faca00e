using System.Text.RegularExpressions;
using Mono.Unix.Native;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>The ufork> prompt on a real pseudo-terminal, typed at as a person would.</summary>
public sealed class PromptTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private const string Prompt = "ufork> ";
    private const string CtrlZ = "\x1a";
    private const string Ticking = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done";

    [Fact]
    public async Task Commands_and_CSharp_run_against_the_live_arbiter_and_Roslyn_loads_only_for_CSharp()
    {
        await using var terminal = PseudoTerminal.Start("exec " + PseudoTerminal.Dotnet("ufork.dll", "run", "-w", "2", "--", "/bin/sh", "-c", "echo up; exec sleep 60"));
        // Both up and ready (1 s later), so that no log line lands between what is typed and its answer.
        await terminal.WaitForAsync(s => Regex.Count(s, @"\] up\n") == 2 && Regex.Count(s, @" is ready \(") == 2 && s.EndsWith(Prompt), Patience);
        var arbiter = terminal.ChildPid;

        var mark = terminal.Screen.Length;
        await terminal.TypeAsync("status" + PseudoTerminal.Enter);
        await terminal.WaitForAsync(@"SLOT +PID +STATE.*\nw0 +\d+ +\w+.*\nw1 +\d+ +\w+.*\nufork> $", Patience, mark);
        Assert.False(LoadsRoslyn(arbiter), "Roslyn was loaded before any C# was typed");

        mark = terminal.Screen.Length;
        await terminal.TypeAsync("arbiter.Workers.Count" + PseudoTerminal.Enter);
        await terminal.WaitForAsync(@"arbiter\.Workers\.Count\n2\nufork> $", Patience, mark);
        Assert.True(LoadsRoslyn(arbiter));

        mark = terminal.Screen.Length;
        await terminal.TypeAsync("arbiter.Workerz" + PseudoTerminal.Enter);
        await terminal.WaitForAsync(@"\n\(1,9\): error CS1061: 'Arbiter' does not contain a definition for 'Workerz'.*\nufork> $", Patience, mark);

        mark = terminal.Screen.Length;
        await terminal.TypeAsync("scale 3" + PseudoTerminal.Enter);
        await terminal.WaitForAsync(@"2 -> 3 workers\n", Patience, mark);
        await terminal.WaitForAsync(@"\[w2 \d+\] up\n", Patience, mark);
        await terminal.WaitForAsync(@"w2: pid \d+ is ready", Patience, mark);
        mark = terminal.Screen.Length;
        await terminal.TypeAsync("status" + PseudoTerminal.Enter);
        await terminal.WaitForAsync(@"SLOT.*\nw0 .*\nw1 .*\nw2 +\d+ .*\nufork> $", Patience, mark);

        await terminal.TypeAsync(PseudoTerminal.CtrlC);
        Assert.Equal(0, await terminal.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Worker_output_goes_above_the_line_being_typed_which_is_redrawn_intact()
    {
        await using var terminal = PseudoTerminal.Start("exec " + PseudoTerminal.Dotnet("ufork.dll", "run", "-w", "1", "--", "/bin/sh", "-c", Ticking));
        await terminal.WaitForAsync(s => s.Contains("] tick 1\n") && s.EndsWith(Prompt), Patience);

        await terminal.TypeAsync("scale 2x");
        var mark = terminal.Screen.Length;
        // Left (as an xterm in keypad mode sends it) and Backspace over the 2, then 3, with ticks arriving
        // meanwhile; then Ctrl-K drops the x. Each step waits for the redrawn line, as typing does.
        await terminal.TypeAsync(PseudoTerminal.Left + PseudoTerminal.Backspace);
        await terminal.WaitForAsync(s => s.EndsWith(Prompt + "scale x"), Patience);
        await terminal.TypeAsync("3");
        await terminal.WaitForAsync(@"\] tick \d+\nufork> scale 3x$", Patience, mark);
        await terminal.TypeAsync("\x0b");
        await terminal.WaitForAsync(s => s.EndsWith(Prompt + "scale 3"), Patience);
        await terminal.TypeAsync(PseudoTerminal.Enter);
        await terminal.WaitForAsync(@"1 -> 3 workers\n", Patience, mark);

        await terminal.TypeAsync(PseudoTerminal.CtrlC);
        Assert.Equal(0, await terminal.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Ctrl_D_closes_the_prompt_and_the_arbiter_serves_on_without_reading_stdin()
    {
        await using var terminal = PseudoTerminal.Start("exec " + PseudoTerminal.Dotnet("ufork.dll", "run", "-w", "1", "--", "/bin/sh", "-c", Ticking));
        await terminal.WaitForAsync(s => s.Contains("] tick 1\n") && s.EndsWith(Prompt), Patience);

        await terminal.TypeAsync(PseudoTerminal.CtrlD);
        var closed = await terminal.WaitForAsync(@"\[ufork\] prompt closed; still serving", Patience);
        var mark = closed.Length;
        await terminal.TypeAsync("status" + PseudoTerminal.Enter);
        var later = await terminal.WaitForAsync(s => Regex.Count(s[mark..], @"\] tick \d+\n") >= 5, Patience);

        Assert.DoesNotContain("SLOT", later[mark..]);
        Assert.DoesNotContain(Prompt, later[mark..]);
        await terminal.TypeAsync(PseudoTerminal.CtrlC);
        Assert.Equal(0, await terminal.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Ctrl_C_stops_every_worker_exits_0_and_gives_the_terminal_back_as_it_was()
    {
        // The shell outlives the arbiter (its trap only keeps SIGINT from ending it) to report and to ask the terminal.
        var ufork = PseudoTerminal.Dotnet("ufork.dll", "run", "-w", "2", "--", "/bin/sh", "-c", "echo up; exec sleep 60");
        await using var terminal = PseudoTerminal.Start($"trap : INT; {ufork}; echo \"ufork exited $?\"; stty -a");
        // The arbiter's log is asynchronous: a worker's "started pid" line may follow its first output.
        await terminal.WaitForAsync(s => Regex.Count(s, @"\] up\n") == 2 && Regex.Count(s, @"started pid \d+") == 2 && s.EndsWith(Prompt), Patience);
        var workers = Regex.Matches(terminal.Screen, @"started pid (\d+)").Select(m => int.Parse(m.Groups[1].Value)).ToList();

        await terminal.TypeAsync("sta");
        await terminal.WaitForAsync(s => s.EndsWith(Prompt + "sta"), Patience);
        await terminal.TypeAsync(PseudoTerminal.CtrlC);

        var screen = await terminal.WaitForAsync(@"ufork exited \d+\n(.|\n)*speed .* baud(.|\n)*echoke", Patience);
        Assert.Equal(0, await terminal.WaitForExitAsync(Patience));
        Assert.Contains("ufork exited 0\n", screen);
        Assert.Contains(Prompt + "sta\n", screen);
        Assert.Contains("[ufork] all workers stopped\n", screen);
        var settings = screen[screen.IndexOf("speed ", StringComparison.Ordinal)..];
        Assert.Matches(@"(^|\s)icanon(\s|$)", settings);
        Assert.Matches(@"(^|\s)echo(\s|$)", settings);
        Assert.Matches(@"(^|\s)isig(\s|$)", settings);
        Assert.Equal(2, workers.Count);
        await ProcessWatch.AssertAllGoneAsync(workers, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Under_an_interactive_shell_Ctrl_Z_bg_and_fg_work_as_for_any_job_and_the_terminals_TTIN_scales_nothing()
    {
        using var directory = new TempDirectory();
        var pidFile = directory.File("ufork.pid");
        await using var terminal = PseudoTerminal.Start("export PS1='shell$ '; exec bash --norc --noprofile -i");
        await terminal.WaitForAsync(s => s.EndsWith("shell$ "), Patience);
        var ufork = PseudoTerminal.Dotnet("ufork.dll", "run", "--pidfile", pidFile, "-w", "1", "--", "/bin/sh", "-c", "echo up; exec sleep 60");
        await terminal.TypeAsync(ufork + PseudoTerminal.Enter);
        await terminal.WaitForAsync(s => s.Contains("] up\n") && Regex.IsMatch(s, @"started pid \d+") && s.EndsWith(Prompt), Patience);
        var arbiter = int.Parse(File.ReadAllText(pidFile));
        var worker = int.Parse(Regex.Match(terminal.Screen, @"w0: started pid (\d+)").Groups[1].Value);

        // Ctrl-Z: the arbiter stops as a job; its worker, in a process group of its own, does not.
        var mark = terminal.Screen.Length;
        await terminal.TypeAsync(CtrlZ);
        await terminal.WaitForAsync(@"Stopped(.|\n)*shell\$ $", Patience, mark);
        Assert.Equal('T', ProcessWatch.State(arbiter));
        Assert.NotEqual('T', ProcessWatch.State(worker));

        // bg: serving in the background, the shell keeps the terminal, and TTIN and TTOU from it scale nothing.
        mark = terminal.Screen.Length;
        await terminal.TypeAsync("bg" + PseudoTerminal.Enter);
        await terminal.WaitForAsync(@"\[1\]\+ .*&\n(.|\n)*shell\$ $", Patience, mark);
        mark = terminal.Screen.Length;
        // Whether a TTIN is the terminal's is judged when .NET hands the signal to its handler, which on a
        // loaded machine can come after an immediate fg; a person's fg comes a moment later, as here.
        await terminal.TypeAsync("kill -TTIN %1; kill -TTOU %1; sleep 2; echo shell still here" + PseudoTerminal.Enter);
        var background = await terminal.WaitForAsync(@"\nshell still here\n(.|\n)*shell\$ $", Patience, mark);
        Assert.DoesNotContain(Prompt, background[mark..]);
        Assert.NotEqual('T', ProcessWatch.State(arbiter));

        // fg: the prompt is back, drawn again, and the scale is what it was.
        mark = terminal.Screen.Length;
        await terminal.TypeAsync("fg" + PseudoTerminal.Enter);
        await terminal.WaitForAsync(s => s.EndsWith(Prompt), Patience);
        await terminal.TypeAsync("status" + PseudoTerminal.Enter);
        var status = await terminal.WaitForAsync(@"SLOT.*\nw0 .*\nufork> $", Patience, mark);
        Assert.DoesNotContain("\nw1 ", status[mark..]);

        // A TTIN from kill, to an arbiter in the foreground, is a command.
        Syscall.kill(arbiter, Signum.SIGTTIN);
        await terminal.WaitForAsync(@"scaled from 1 to 2 workers", Patience, mark);

        // In the background again, TERM still ends it, gracefully, and the shell reports its exit code.
        mark = terminal.Screen.Length;
        await terminal.TypeAsync(CtrlZ);
        await terminal.WaitForAsync(@"Stopped(.|\n)*shell\$ $", Patience, mark);
        await terminal.TypeAsync("bg; kill -TERM %1; wait %1; echo \"ufork exited $?\"" + PseudoTerminal.Enter);
        var stopped = await terminal.WaitForAsync(@"ufork exited \d+\n(.|\n)*shell\$ $", Patience, mark);
        await terminal.TypeAsync("exit" + PseudoTerminal.Enter);

        Assert.Equal(0, await terminal.WaitForExitAsync(Patience));
        Assert.Contains("ufork exited 0\n", stopped);
        Assert.Contains("[ufork] all workers stopped\n", stopped);
        Assert.Single(Regex.Matches(terminal.Screen, "scaled from|staying at"));
        await ProcessWatch.AssertAllGoneAsync([arbiter, worker], TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task From_a_REPL_Ctrl_C_stops_the_entry_point_workers_and_returns_to_the_REPL_with_stdin_intact()
    {
        var repl = PseudoTerminal.Dotnet("UFork.TestWorker.dll", "interactive", Path.Combine(AppContext.BaseDirectory, "Ticker.dll"), "Samples.Ticker");
        await using var terminal = PseudoTerminal.Start("exec " + repl);
        await terminal.WaitForAsync(s => s.Contains("] worker 0 up\n") && s.Contains("] worker 1 up\n") && s.EndsWith(Prompt), Patience);

        await terminal.TypeAsync(PseudoTerminal.CtrlC);
        await terminal.WaitForAsync(@"back at the REPL, arbiter exit code 0\n", Patience);
        await terminal.TypeAsync("hello" + PseudoTerminal.Enter);

        await terminal.WaitForAsync(@"read: hello\n", Patience);
        Assert.Equal(0, await terminal.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Without_a_terminal_there_is_no_prompt_and_nothing_reads_stdin()
    {
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--", "/bin/sh", "-c", Ticking);
        await ufork.WaitForLineAsync(l => l.EndsWith("] tick 1"), Patience);

        await ufork.TypeAsync("status\n");
        await ufork.WaitForLineAsync(l => l.EndsWith("] tick 10"), Patience);

        Assert.DoesNotContain(ufork.Stdout, l => l.Contains(Prompt) || l.StartsWith("SLOT"));
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
    }

    /// <summary>Whether the process has mapped Roslyn's assembly.</summary>
    private static bool LoadsRoslyn(int pid) => File.ReadAllText($"/proc/{pid}/maps").Contains("Microsoft.CodeAnalysis.dll");
}
