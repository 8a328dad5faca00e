using UFork.Control;
using UFork.Spawning;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

public sealed class CommandSetTests(ITestOutputHelper output) : ArbiterTestKit(output)
{
    [Theory]
    [InlineData("status", "ListWorkers")]
    [InlineData("  dead ", "ListDeadWorkers")]
    [InlineData("scale 3", "Scale { Workers = 3 }")]
    [InlineData("restart", "RestartWorkers { Slot =  }")]
    [InlineData("restart all", "RestartWorkers { Slot =  }")]
    [InlineData("restart 2", "RestartWorkers { Slot = 2 }")]
    [InlineData("restart w1", "RestartWorkers { Slot = 1 }")]
    [InlineData("kill 1", "KillWorker { Slot = 1 }")]
    [InlineData("kill w0", "KillWorker { Slot = 0 }")]
    [InlineData("stop", "Shutdown { Fast = False }")]
    [InlineData("log debug", "SetLogLevel { Level = DebugLevel }")]
    [InlineData("log WARNING", "SetLogLevel { Level = WarningLevel }")]
    public void A_command_line_becomes_one_arbiter_message(string line, string message)
    {
        var (parsed, error) = ArbiterCommand.Parse(line);

        Assert.Null(error);
        Assert.Equal(message, parsed!.ToString()!.Replace("UFork.Supervision.", "").Replace(" { }", ""));
    }

    [Theory]
    [InlineData("scale", "usage: scale N, with N a positive number of workers")]
    [InlineData("scale zero", "usage: scale N, with N a positive number of workers")]
    [InlineData("kill", "usage: kill SLOT, SLOT as w0 or 0")]
    [InlineData("kill -1", "usage: kill SLOT, SLOT as w0 or 0")]
    [InlineData("kill w", "usage: kill SLOT, SLOT as w0 or 0")]
    [InlineData("restart x1", "usage: restart [SLOT|all], SLOT as w1 or 1")]
    [InlineData("log", "usage: log debug|info|warning|error")]
    [InlineData("log loud", "usage: log debug|info|warning|error")]
    [InlineData("frobnicate", "unknown command 'frobnicate'; try help")]
    [InlineData("stauts", "unknown command 'stauts'; did you mean status?")]
    [InlineData("scael 3", "unknown command 'scael'; did you mean scale?")]
    [InlineData("restrat w1", "unknown command 'restrat'; did you mean restart?")]
    public void A_malformed_command_is_an_error_naming_the_usage(string line, string error)
    {
        Assert.Equal((null, error), ArbiterCommand.Parse(line));
    }

    [Theory]
    [InlineData("stauts", true)]
    [InlineData("kill w0", true)]
    [InlineData("arbiter.Workers.Count", false)]
    [InlineData("arbiter", false)]
    [InlineData("stauts.Length", false)]
    public void A_slip_for_a_command_is_taken_as_one_at_the_prompt_but_CSharp_is_not(string line, bool isCommand)
    {
        Assert.Equal(isCommand, ArbiterCommand.IsCommand(line));
    }

    [Fact]
    public async Task Status_and_dead_render_as_tables_and_as_json()
    {
        var starts = Listen<WorkerStarted>();
        var deaths = Listen<DeadWorker>();
        var ready = Listen<WorkerReady>();
        var arbiter = StartArbiter(Shell("exec sleep 30"), Settings(workers: 2));
        var pids = new[] { starts.ExpectMsg<WorkerStarted>(Patience).Pid, starts.ExpectMsg<WorkerStarted>(Patience).Pid };
        ready.ReceiveN(2, Patience);
        var commands = new CommandExecutor(arbiter.Actor, arbiter.Settings);

        var kill = await commands.ExecuteAsync("kill 0");
        deaths.ExpectMsg<DeadWorker>(Patience);
        var status = await commands.ExecuteAsync("status");
        var dead = await commands.ExecuteAsync("dead");
        var json = await commands.ExecuteAsync("dead", json: true);
        var missing = await commands.ExecuteAsync("kill 7");

        Assert.Equal((true, "sent SIGKILL to w0"), kill);
        var lines = status.Output.Split('\n');
        Assert.StartsWith("SLOT  PID", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^w1\s+\d+\s+ready\s+", lines[2]);
        Assert.Matches($@"^w0\s+{pids.Min()}|^w0\s+{pids.Max()}", dead.Output.Split('\n')[1]);
        Assert.Contains("SIGKILL", dead.Output);
        Assert.Contains("\"signal\":\"SIGKILL\"", json.Output);
        Assert.Contains("\"cause\":\"killed\"", json.Output);
        Assert.Equal((false, "error: no worker in slot 7"), missing);
    }
}
