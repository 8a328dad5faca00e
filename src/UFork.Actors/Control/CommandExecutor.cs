using Akka.Actor;
using UFork.Configuration;
using UFork.Supervision;

namespace UFork.Control;

/// <summary>Runs a typed command against an arbiter and renders its reply: the prompt's and the control socket's shared core.</summary>
public sealed class CommandExecutor(IActorRef arbiter, UForkSettings settings)
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    /// <summary>`restart` answers once every worker has been replaced, each replacement taking up to its start timeout.</summary>
    public static readonly TimeSpan RestartTimeout = TimeSpan.FromMinutes(30);

    /// <summary>The rendered reply and whether the command succeeded.</summary>
    public async Task<(bool Ok, string Output)> ExecuteAsync(string line, bool json = false)
    {
        if (line.Trim() == "help")
            return (true, ReplyRenderer.Help());
        var (message, error) = ArbiterCommand.Parse(line);
        if (message is null)
            return (false, error!);
        try
        {
            var reply = await arbiter.Ask<object>(message, TimeoutFor(message));
            var ok = reply is not CommandDone { Ok: false };
            return (ok, json ? ReplyRenderer.AsJson(reply) : ReplyRenderer.AsText(reply));
        }
        catch (AskTimeoutException)
        {
            return (false, "the arbiter did not answer in time");
        }
    }

    /// <summary>`stop` answers once every worker has stopped, within the grace period.</summary>
    private TimeSpan TimeoutFor(object message) => message switch
    {
        Shutdown => settings.ShutdownGrace + AskTimeout,
        RestartWorkers => RestartTimeout,
        _ => AskTimeout,
    };
}
