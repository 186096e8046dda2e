using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Security;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Security;

public sealed class RequestLimitsTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.7");
    private static readonly IPAddress OtherClient = IPAddress.Parse("192.0.2.8");

    private static RequestLimits Limits(TimeProvider time, int perSecond = 0, int burst = 0, int inFlight = 0) =>
        new(new LimitsOptions { RequestsPerSecondPerIp = perSecond, RequestBurstPerIp = burst, ConcurrentRequestsPerIp = inFlight }, time);

    private static int Admitted(RequestLimits limits, IPAddress address, int tries)
    {
        var admitted = 0;
        for (var i = 0; i < tries; i++)
        {
            if (limits.TryStart(address))
            {
                admitted++;
                limits.End(address);
            }
        }

        return admitted;
    }

    [Fact]
    public void An_address_gets_its_burst_at_once_and_then_the_rate_as_time_passes()
    {
        var time = new FakeTimeProvider();
        var limits = Limits(time, perSecond: 10, burst: 30);

        Assert.Equal(30, Admitted(limits, Client, 100));
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(5, Admitted(limits, Client, 100));
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(30, Admitted(limits, Client, 100));
    }

    [Fact]
    public void Each_address_has_its_own_bucket()
    {
        var limits = Limits(new FakeTimeProvider(), perSecond: 1, burst: 2);

        Assert.Equal(2, Admitted(limits, Client, 5));
        Assert.Equal(2, Admitted(limits, OtherClient, 5));
    }

    [Fact]
    public void A_burst_below_the_rate_still_allows_one_seconds_worth()
    {
        var limits = Limits(new FakeTimeProvider(), perSecond: 20, burst: 5);

        Assert.Equal(20, Admitted(limits, Client, 50));
    }

    [Fact]
    public void Requests_in_flight_are_bounded_per_address_and_an_ended_one_frees_its_place()
    {
        var limits = Limits(new FakeTimeProvider(), inFlight: 2);

        Assert.True(limits.TryStart(Client));
        Assert.True(limits.TryStart(Client));
        Assert.False(limits.TryStart(Client));
        Assert.True(limits.TryStart(OtherClient));
        limits.End(Client);
        Assert.True(limits.TryStart(Client));
    }

    [Fact]
    public void A_refused_request_takes_nothing()
    {
        var time = new FakeTimeProvider();
        var limits = Limits(time, perSecond: 1, burst: 1, inFlight: 1);

        Assert.True(limits.TryStart(Client));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(limits.TryStart(Client));   // in flight: refused, and its token is not spent
        limits.End(Client);
        Assert.True(limits.TryStart(Client));
    }

    [Fact]
    public void Both_limits_at_zero_turn_the_limits_off()
    {
        Assert.False(Limits(new FakeTimeProvider()).Enabled);
        Assert.True(Limits(new FakeTimeProvider(), perSecond: 1).Enabled);
        Assert.True(Limits(new FakeTimeProvider(), inFlight: 1).Enabled);
    }

    [Fact]
    public void Addresses_back_in_their_unseen_state_are_forgotten_once_many_are_tracked_and_busy_ones_are_kept()
    {
        var time = new FakeTimeProvider();
        var limits = Limits(time, perSecond: 1, burst: 1, inFlight: 4);
        var busy = IPAddress.Parse("198.51.100.1");
        Assert.True(limits.TryStart(busy));
        for (var i = 0; i < 9_999; i++)
        {
            var address = new IPAddress(0x0A000000L + i);
            Assert.True(limits.TryStart(address));
            limits.End(address);
        }

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(limits.TryStart(Client));

        Assert.Equal(2, limits.Tracked);   // the busy address and the new one
    }
}
