using System.Net;
using System.Security.Claims;
using AnnexEdge.Locking;
using Microsoft.AspNetCore.Http;

namespace AnnexEdge.Tests.Locking;

public sealed class LockPrincipalTests
{
    [Theory]
    [InlineData("192.0.2.7", "addr:192.0.2.7")]
    [InlineData("::ffff:192.0.2.7", "addr:192.0.2.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "addr:2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::", "addr:2001:db8:1:2::/64")]
    [InlineData("::1", "addr:::/64")]
    public void An_address_is_itself_and_an_IPv6_address_its_64(string address, string expected)
    {
        Assert.Equal(expected, LockPrincipal.Address(IPAddress.Parse(address)).Id);
    }

    [Fact]
    public void Addresses_in_one_64_are_one_client_and_in_the_next_another()
    {
        Assert.Equal(LockPrincipal.Address(IPAddress.Parse("2001:db8::1")), LockPrincipal.Address(IPAddress.Parse("2001:db8::ffff:ffff:ffff:ffff")));
        Assert.NotEqual(LockPrincipal.Address(IPAddress.Parse("2001:db8::1")), LockPrincipal.Address(IPAddress.Parse("2001:db8:0:1::1")));
    }

    [Fact]
    public void An_authenticated_user_is_the_user_wherever_it_comes_from()
    {
        var first = Context("192.0.2.1", "alice");
        var second = Context("2001:db8::1", "alice");
        Assert.Equal(LockPrincipal.User("alice"), LockPrincipal.Of(first));
        Assert.Equal(LockPrincipal.Of(first), LockPrincipal.Of(second));
        Assert.True(LockPrincipal.Of(first).IsUser);
    }

    [Fact]
    public void An_anonymous_client_is_its_address_and_never_a_user()
    {
        var principal = LockPrincipal.Of(Context("192.0.2.1", null));
        Assert.Equal("addr:192.0.2.1", principal.Id);
        Assert.False(principal.IsUser);
        Assert.NotEqual(LockPrincipal.User("addr:192.0.2.1"), principal);
    }

    [Fact]
    public void Ids_read_back_and_nothing_else_does()
    {
        Assert.Equal(LockPrincipal.User("alice"), LockPrincipal.Parse("user:alice"));
        Assert.Equal(LockPrincipal.Address(IPAddress.Loopback), LockPrincipal.Parse("addr:127.0.0.1"));
        Assert.Null(LockPrincipal.Parse("alice"));
    }

    private static DefaultHttpContext Context(string address, string? user)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
        if (user is not null)
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], "Basic"));
        }

        return context;
    }
}
