using Akka.Actor;
using UFork.Supervision;

namespace UFork.Control;

/// <summary>Runs a typed command against an arbiter and renders its reply: the prompt's and the control socket's shared core.</summary>
public sealed class CommandExecutor(IActorRef arbiter, TimeSpan stopTimeout)
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

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
            var reply = await arbiter.Ask<object>(message, message is Shutdown ? stopTimeout : AskTimeout);
            var ok = reply is not CommandDone { Ok: false };
            return (ok, json ? ReplyRenderer.AsJson(reply) : ReplyRenderer.AsText(reply));
        }
        catch (AskTimeoutException)
        {
            return (false, "the arbiter did not answer in time");
        }
    }
}
