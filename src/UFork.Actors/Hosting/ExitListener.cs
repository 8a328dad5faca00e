using Akka.Actor;
using UFork.Supervision;

namespace UFork.Hosting;

/// <summary>
/// Learns how one arbiter stopped (<see cref="ArbiterStopped"/> on the event stream). Subscribed before
/// the arbiter exists, so that even one that halts at once is heard; told which arbiter is its own right
/// after it is created.
/// </summary>
internal sealed class ExitListener : ReceiveActor
{
    private readonly List<ArbiterStopped> _heard = [];
    private IActorRef? _arbiter;

    public static Props Props(TaskCompletionSource<ArbiterStopped> exit) => Akka.Actor.Props.Create(() => new ExitListener(exit));

    public ExitListener(TaskCompletionSource<ArbiterStopped> exit)
    {
        Receive<ArbiterStopped>(stopped =>
        {
            _heard.Add(stopped);
            Settle();
        });
        Receive<IActorRef>(arbiter =>
        {
            _arbiter = arbiter;
            Settle();
        });

        void Settle()
        {
            if (_heard.Find(h => h.Arbiter.Equals(_arbiter)) is not { } own)
                return;
            exit.TrySetResult(own);
            Context.Stop(Self);
        }
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(ArbiterStopped));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
