using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Security;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Security;

public sealed class LoginThrottleTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.7");
    private static readonly IPAddress OtherClient = IPAddress.Parse("192.0.2.8");

    private static LoginThrottle Throttle(FakeTimeProvider time, int perUser = 3, int perAddress = 100, int running = 100) =>
        new(new LimitsOptions { FailedLoginsPerMinutePerIp = perUser, FailedPasswordChecksPerMinutePerIp = perAddress, PasswordChecksPerIp = running }, time);

    private static LoginThrottle.Attempt Start(LoginThrottle throttle, IPAddress address, string user)
    {
        Assert.Equal(LoginStart.Started, throttle.TryStart(address, user, out var attempt));
        return attempt!;
    }

    [Fact]
    public void An_attempt_takes_its_place_when_it_starts_so_a_concurrent_burst_is_bounded_before_any_check_ends()
    {
        var throttle = Throttle(new FakeTimeProvider(), perUser: 3);
        var running = Enumerable.Range(0, 3).Select(_ => Start(throttle, Client, "alice")).ToList();

        Assert.Equal(LoginStart.TooManyFailures, throttle.TryStart(Client, "alice", out _));
        Assert.True(throttle.IsBlocked(Client, "alice"));
        running.ForEach(a => a.Failed());
        Assert.Equal(LoginStart.TooManyFailures, throttle.TryStart(Client, "alice", out _));
    }

    [Fact]
    public void A_check_that_succeeds_or_never_ran_gives_its_place_back()
    {
        var throttle = Throttle(new FakeTimeProvider(), perUser: 2);
        Start(throttle, Client, "alice").Failed();
        var right = Start(throttle, Client, "alice");
        Assert.Equal(LoginStart.TooManyFailures, throttle.TryStart(Client, "alice", out _));

        right.Release();
        right.Release();
        Start(throttle, Client, "alice").Release();
        Assert.False(throttle.IsBlocked(Client, "alice"));
        Assert.Equal(0, throttle.Running(Client));
    }

    [Fact]
    public void Failures_count_per_address_and_user_name_so_another_user_at_the_address_still_logs_in()
    {
        var throttle = Throttle(new FakeTimeProvider(), perUser: 3);
        for (var i = 0; i < 3; i++)
        {
            Start(throttle, Client, "mallory").Failed();
        }

        Assert.True(throttle.IsBlocked(Client, "mallory"));
        Assert.False(throttle.IsBlocked(Client, "alice"));
        Assert.False(throttle.IsBlocked(OtherClient, "mallory"));
        Start(throttle, Client, "alice").Release();
    }

    [Fact]
    public void The_coarser_per_address_bound_stops_checks_for_any_user_name_but_does_not_block_a_name()
    {
        var throttle = Throttle(new FakeTimeProvider(), perUser: 3, perAddress: 4);
        for (var i = 0; i < 4; i++)
        {
            Start(throttle, Client, "user" + i).Failed();
        }

        Assert.Equal(LoginStart.TooManyFailures, throttle.TryStart(Client, "alice", out _));
        // Not blocked by name: a remembered password of alice is still accepted (the authenticator asks IsBlocked first).
        Assert.False(throttle.IsBlocked(Client, "alice"));
        Start(throttle, OtherClient, "alice").Release();
    }

    [Fact]
    public void An_address_has_at_most_PasswordChecksPerIp_checks_running_and_the_next_is_refused_without_taking_a_place()
    {
        var throttle = Throttle(new FakeTimeProvider(), perUser: 3, running: 2);
        var first = Start(throttle, Client, "alice");
        Start(throttle, Client, "bob");

        Assert.Equal(LoginStart.TooManyRunning, throttle.TryStart(Client, "carol", out _));
        Assert.Equal(LoginStart.TooManyRunning, throttle.TryStart(Client, "carol", out _));
        Assert.Equal(LoginStart.TooManyRunning, throttle.TryStart(Client, "carol", out _));
        Start(throttle, OtherClient, "carol");

        first.Failed();
        Start(throttle, Client, "carol").Failed();
        Assert.False(throttle.IsBlocked(Client, "carol"), "refused attempts took places in the window");
    }

    [Fact]
    public void A_blocked_name_is_free_again_when_its_minute_ends_and_an_old_place_is_not_given_to_the_new_window()
    {
        var time = new FakeTimeProvider();
        var throttle = Throttle(time, perUser: 2);
        Start(throttle, Client, "alice").Failed();
        var slow = Start(throttle, Client, "alice");
        Assert.True(throttle.IsBlocked(Client, "alice"));

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(throttle.IsBlocked(Client, "alice"));
        Start(throttle, Client, "alice").Failed();
        Start(throttle, Client, "alice").Failed();
        slow.Release();
        Assert.True(throttle.IsBlocked(Client, "alice"));
    }

    [Fact]
    public void Zero_turns_the_failure_windows_off()
    {
        var throttle = Throttle(new FakeTimeProvider(), perUser: 0, perAddress: 0);
        for (var i = 0; i < 50; i++)
        {
            Start(throttle, Client, "alice").Failed();
        }

        Assert.False(throttle.IsBlocked(Client, "alice"));
    }
}
