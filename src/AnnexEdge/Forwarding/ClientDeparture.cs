using Microsoft.AspNetCore.Http.Features;

namespace AnnexEdge.Forwarding;

/// <summary>
/// Tells a client that went away from a request the edge ended itself. Both cancel <c>RequestAborted</c>, and
/// Kestrel cancels it later on the thread pool, so after YARP ends a response whose copy failed (a backend that
/// broke its word) the token alone said "client gone" only some of the time: seen as a download fault left unlogged
/// in CI under load. This stands in for the request's lifetime (and reset) feature and notes, when the edge ends the
/// request, whether the client had already gone.
/// </summary>
internal sealed class ClientDeparture : IHttpRequestLifetimeFeature
{
    private readonly IHttpRequestLifetimeFeature _lifetime;
    private bool? _goneWhenEnded;

    private ClientDeparture(IHttpRequestLifetimeFeature lifetime) => _lifetime = lifetime;

    /// <summary>True if the client went away before the edge ended the request, or without the edge ending it.</summary>
    public bool ClientWentAway => _goneWhenEnded ?? _lifetime.RequestAborted.IsCancellationRequested;

    public CancellationToken RequestAborted
    {
        get => _lifetime.RequestAborted;
        set => _lifetime.RequestAborted = value;
    }

    /// <summary>Watches <paramref name="context"/> from now on.</summary>
    public static ClientDeparture Watch(HttpContext context)
    {
        var departure = new ClientDeparture(context.Features.GetRequiredFeature<IHttpRequestLifetimeFeature>());
        context.Features.Set<IHttpRequestLifetimeFeature>(departure);
        if (context.Features.Get<IHttpResetFeature>() is { } reset)
        {
            // HTTP/2 and 3: YARP resets the stream instead of aborting the connection.
            context.Features.Set<IHttpResetFeature>(new ResetWitness(departure, reset));
        }

        return departure;
    }

    public void Abort()
    {
        Ended();
        _lifetime.Abort();
    }

    private void Ended() => _goneWhenEnded ??= _lifetime.RequestAborted.IsCancellationRequested;

    private sealed class ResetWitness(ClientDeparture departure, IHttpResetFeature inner) : IHttpResetFeature
    {
        public void Reset(int errorCode)
        {
            departure.Ended();
            inner.Reset(errorCode);
        }
    }
}
