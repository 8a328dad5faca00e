using Akka.Actor;
using UFork.Supervision;

namespace UFork.Metrics;

/// <summary>
/// Keeps <see cref="FleetMetrics"/> up to date from the arbiter's event stream (workers' instruments, deaths,
/// rolling restarts) and answers a <see cref="Scrape"/> with the exposition text, after asking the arbiter
/// for the status of every worker. One actor, so that the registry is changed from one thread at a time.
/// </summary>
internal sealed class MetricsCollector : ReceiveActor
{
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(5);

    public MetricsCollector(IActorRef arbiter)
    {
        var fleet = new FleetMetrics();
        Receive<WorkerInstruments>(report => fleet.Reported(report.Slot, report.Pid, report.Snapshot));
        Receive<DeadWorker>(fleet.Died);
        Receive<RollingRestartEnded>(ended => fleet.RollingRestartEnded(ended.Completed));
        Receive<Scrape>(_ =>
        {
            var requester = Sender;
            arbiter.Ask<IReadOnlyList<WorkerStatus>>(ListWorkers.Instance, StatusTimeout)
                .PipeTo(Self, success: statuses => new StatusesForScrape(statuses, requester),
                    failure: _ => new StatusesForScrape([], requester)); // the arbiter is gone or busy: the rest is still worth showing
        });
        Receive<StatusesForScrape>(scrape =>
        {
            fleet.Update(scrape.Statuses);
            Export(fleet).PipeTo(scrape.Requester);
        });
    }

    public static Props Props(IActorRef arbiter) => Akka.Actor.Props.Create(() => new MetricsCollector(arbiter));

    protected override void PreStart()
    {
        var events = Context.System.EventStream;
        events.Subscribe(Self, typeof(WorkerInstruments));
        events.Subscribe(Self, typeof(DeadWorker));
        events.Subscribe(Self, typeof(RollingRestartEnded));
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private static async Task<byte[]> Export(FleetMetrics fleet)
    {
        using var text = new MemoryStream();
        await fleet.ExportAsync(text, CancellationToken.None);
        return text.ToArray();
    }

    /// <summary>Asks for the exposition text; replies its bytes.</summary>
    public sealed record Scrape
    {
        public static Scrape Instance { get; } = new();
    }

    private sealed record StatusesForScrape(IReadOnlyList<WorkerStatus> Statuses, IActorRef Requester);
}
