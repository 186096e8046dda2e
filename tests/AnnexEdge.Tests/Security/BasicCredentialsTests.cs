using System.Text;
using AnnexEdge.Security;

namespace AnnexEdge.Tests.Security;

public sealed class BasicCredentialsTests
{
    private static string Header(string raw) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(raw));

    [Fact]
    public void The_password_may_hold_colons_and_non_ascii_characters()
    {
        Assert.True(BasicCredentials.TryParse(Header("alice:pa:ss:wörd"), out var credentials));
        Assert.Equal(new BasicCredentials("alice", "pa:ss:wörd"), credentials);
    }

    [Fact]
    public void The_scheme_is_case_insensitive_and_an_empty_password_is_allowed()
    {
        Assert.True(BasicCredentials.TryParse("bAsIc " + Convert.ToBase64String("bob:"u8.ToArray()), out var credentials));
        Assert.Equal(new BasicCredentials("bob", ""), credentials);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Basic")]
    [InlineData("Basic !!!notbase64")]
    [InlineData("Bearer abc.def")]
    [InlineData("Basic bm9jb2xvbg==")] // "nocolon"
    [InlineData("Basic OnB3")] // ":pw" (no user)
    [InlineData("Basic /w==")] // invalid UTF-8
    public void Malformed_headers_are_not_credentials(string? header)
    {
        Assert.False(BasicCredentials.TryParse(header, out _));
    }

    [Fact]
    public void The_challenge_is_the_one_p2phttp_sends()
    {
        Assert.Equal("Basic realm=\"git-annex\", charset=\"UTF-8\"", BasicCredentials.Challenge);
    }
}
