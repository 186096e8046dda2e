using AnnexEdge.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AnnexEdge.Tests.Forwarding;

public sealed class ClientDepartureTests
{
    [Fact]
    public void An_edge_abort_before_the_client_left_is_not_a_departure_even_once_the_token_is_cancelled()
    {
        var (context, lifetime) = Context();
        var departure = ClientDeparture.Watch(context);

        context.Abort();
        // Kestrel cancels RequestAborted after the abort, from the thread pool.
        lifetime.Cancel();

        Assert.True(lifetime.Aborted);
        Assert.True(context.RequestAborted.IsCancellationRequested);
        Assert.False(departure.ClientWentAway);
    }

    [Fact]
    public void A_client_that_left_before_the_edge_ended_the_request_went_away()
    {
        var (context, lifetime) = Context();
        var departure = ClientDeparture.Watch(context);

        lifetime.Cancel();
        context.Abort();

        Assert.True(departure.ClientWentAway);
    }

    [Fact]
    public void A_client_that_left_without_the_edge_ending_the_request_went_away()
    {
        var (context, lifetime) = Context();
        var departure = ClientDeparture.Watch(context);

        Assert.False(departure.ClientWentAway);
        lifetime.Cancel();

        Assert.True(departure.ClientWentAway);
        Assert.False(lifetime.Aborted);
    }

    [Fact]
    public void A_stream_reset_by_the_edge_counts_as_the_edge_ending_the_request()
    {
        var (context, lifetime) = Context();
        var reset = new ResetFeature();
        context.Features.Set<IHttpResetFeature>(reset);
        var departure = ClientDeparture.Watch(context);

        context.Features.GetRequiredFeature<IHttpResetFeature>().Reset(0x8);
        lifetime.Cancel();

        Assert.Equal(0x8, reset.ErrorCode);
        Assert.False(departure.ClientWentAway);
    }

    private static (DefaultHttpContext Context, Lifetime Lifetime) Context()
    {
        var context = new DefaultHttpContext();
        var lifetime = new Lifetime();
        context.Features.Set<IHttpRequestLifetimeFeature>(lifetime);
        return (context, lifetime);
    }

    private sealed class Lifetime : IHttpRequestLifetimeFeature, IDisposable
    {
        private readonly CancellationTokenSource _aborted = new();

        public bool Aborted { get; private set; }

        public CancellationToken RequestAborted
        {
            get => _aborted.Token;
            set => throw new NotSupportedException();
        }

        public void Abort() => Aborted = true;

        public void Cancel() => _aborted.Cancel();

        public void Dispose() => _aborted.Dispose();
    }

    private sealed class ResetFeature : IHttpResetFeature
    {
        public int? ErrorCode { get; private set; }

        public void Reset(int errorCode) => ErrorCode = errorCode;
    }
}
