using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Routing;

/// <summary>
/// Requests the edge sends to a backend itself, outside YARP's forwarder (cluster transfers, keeplocked relays).
/// Counted apart from YARP's <see cref="DestinationState.ConcurrentRequestCount"/>: its public setter is a plain
/// write, so a read-add-write from here could undo an increment YARP makes at the same moment and leave its count
/// (which drives its load balancing) wrong for good.
/// </summary>
internal sealed class BackendLoad
{
    private readonly ConditionalWeakTable<DestinationState, StrongBox<int>> _counts = new();

    /// <summary>Counts one request to the backend until the returned scope is disposed.</summary>
    public Scope Enter(DestinationState destination)
    {
        var count = _counts.GetValue(destination, static _ => new StrongBox<int>());
        Interlocked.Increment(ref count.Value);
        return new Scope(count);
    }

    /// <summary>Requests in flight to the backend: proxied by YARP and sent by the edge itself.</summary>
    public int InFlight(DestinationState destination) =>
        destination.ConcurrentRequestCount + (_counts.TryGetValue(destination, out var count) ? Volatile.Read(ref count.Value) : 0);

    public readonly struct Scope(StrongBox<int> count) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref count.Value);
    }
}
