using System.Security.Cryptography;
using AnnexEdge.Configuration;
using AnnexEdge.Locking;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Tests.Locking;

public sealed class LockTokenCodecTests
{
    private const string Repo = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string OtherRepo = "11111111-2222-4333-8444-555555555555";
    private const string Backend = "node1.0a1b2c3d4e5f";
    private const string LockId = "9f0d5f8e-0a43-4a5e-b6a1-1c2d3e4f5a6b";

    private static readonly byte[] KeyBytes = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    private static LockTokenCodec Codec(byte[]? key = null) => new(key ?? KeyBytes);

    private static LockTokenCodec FromOptions(string? tokenKey) =>
        new(Options.Create(new AnnexEdgeOptions { Locking = new LockingOptions { TokenKey = tokenKey } }));

    [Fact]
    public void Token_reads_back_the_backend_and_its_lockid()
    {
        var codec = Codec();
        var token = codec.Issue(Repo, Backend, LockId);
        Assert.True(codec.TryRead(token, Repo, out var backend, out var lockId));
        Assert.Equal(Backend, backend);
        Assert.Equal(LockId, lockId);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("lock\nwith\nnewlines")]
    [InlineData("ü [x] ?&=+/")]
    public void Any_backend_lockid_survives_the_round_trip(string backendLockId)
    {
        var codec = Codec();
        Assert.True(codec.TryRead(codec.Issue(Repo, Backend, backendLockId), Repo, out var backend, out var lockId));
        Assert.Equal(Backend, backend);
        Assert.Equal(backendLockId, lockId);
    }

    [Fact]
    public void Token_is_url_safe_and_does_not_show_the_backend_address_form()
    {
        var token = Codec().Issue(Repo, Backend, LockId);
        Assert.StartsWith("ae1.", token, StringComparison.Ordinal);
        Assert.All(token, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.', $"'{c}' is not URL safe"));
        Assert.Equal(2, token.Count(c => c == '.'));
    }

    [Fact]
    public void Any_single_character_change_is_refused()
    {
        var codec = Codec();
        var token = codec.Issue(Repo, Backend, LockId);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
        for (var i = 0; i < token.Length; i++)
        {
            foreach (var replacement in alphabet)
            {
                if (replacement == token[i])
                {
                    continue;
                }

                var altered = string.Concat(token.AsSpan(0, i), replacement.ToString(), token.AsSpan(i + 1));
                Assert.False(codec.TryRead(altered, Repo, out _, out _), $"changing position {i} to '{replacement}' was accepted: {altered}");
            }
        }
    }

    [Fact]
    public void Removing_or_adding_a_character_is_refused()
    {
        var codec = Codec();
        var token = codec.Issue(Repo, Backend, LockId);
        for (var i = 0; i < token.Length; i++)
        {
            Assert.False(codec.TryRead(token.Remove(i, 1), Repo, out _, out _), $"removing position {i} was accepted");
            Assert.False(codec.TryRead(token.Insert(i, "A"), Repo, out _, out _), $"inserting at {i} was accepted");
        }

        Assert.False(codec.TryRead(token + "A", Repo, out _, out _));
    }

    [Fact]
    public void Token_for_another_repository_is_refused()
    {
        var codec = Codec();
        var token = codec.Issue(OtherRepo, Backend, LockId);
        Assert.False(codec.TryRead(token, Repo, out var backend, out var lockId));
        Assert.Equal("", backend);
        Assert.Equal("", lockId);
        Assert.True(codec.TryRead(token, OtherRepo, out _, out _));
    }

    [Fact]
    public void Token_signed_with_another_key_is_refused()
    {
        var other = Codec(RandomNumberGenerator.GetBytes(32));
        Assert.False(Codec().TryRead(other.Issue(Repo, Backend, LockId), Repo, out _, out _));
    }

    [Fact]
    public void Codecs_sharing_a_key_read_each_others_tokens()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var token = Codec(key).Issue(Repo, Backend, LockId);
        Assert.True(Codec((byte[])key.Clone()).TryRead(token, Repo, out var backend, out var lockId));
        Assert.Equal(Backend, backend);
        Assert.Equal(LockId, lockId);
    }

    [Fact]
    public void Codecs_configured_with_the_same_token_key_interoperate()
    {
        var tokenKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var first = FromOptions(tokenKey);
        var second = FromOptions(tokenKey);
        Assert.False(first.IsEphemeral);
        Assert.True(second.TryRead(first.Issue(Repo, Backend, LockId), Repo, out _, out _));
    }

    [Fact]
    public void Without_token_key_each_codec_has_its_own_key()
    {
        var first = FromOptions(null);
        var second = FromOptions(null);
        Assert.True(first.IsEphemeral);
        var token = first.Issue(Repo, Backend, LockId);
        Assert.True(first.TryRead(token, Repo, out _, out _));
        Assert.False(second.TryRead(token, Repo, out _, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("ae1.")]
    [InlineData("ae1..")]
    [InlineData("ae1.abc")]
    [InlineData("ae1.abc.def")]
    [InlineData("ae1.!!!.!!!")]
    [InlineData("ae2.abc.def")]
    [InlineData(LockId)]
    [InlineData("not a token")]
    public void Garbage_is_refused(string token)
    {
        Assert.False(Codec().TryRead(token, Repo, out var backend, out var lockId));
        Assert.Equal("", backend);
        Assert.Equal("", lockId);
    }

    [Fact]
    public void Token_signed_over_a_payload_without_three_parts_is_refused()
    {
        var codec = Codec();
        Assert.False(codec.TryRead(codec.Issue(Repo, "", LockId), Repo, out _, out _));
        Assert.False(codec.TryRead(codec.Issue(Repo, Backend, ""), Repo, out _, out _));
    }

    [Fact]
    public void Overlong_token_is_refused()
    {
        var codec = Codec();
        var fits = codec.Issue(Repo, Backend, new string('x', 1400));
        Assert.True(fits.Length <= 2048);
        Assert.True(codec.TryRead(fits, Repo, out _, out _));

        var overlong = codec.Issue(Repo, Backend, new string('x', 1600));
        Assert.True(overlong.Length > 2048);
        Assert.False(codec.TryRead(overlong, Repo, out _, out _));
    }

    [Fact]
    public void Same_inputs_give_the_same_token()
    {
        Assert.Equal(Codec().Issue(Repo, Backend, LockId), Codec().Issue(Repo, Backend, LockId));
        Assert.NotEqual(Codec().Issue(Repo, Backend, LockId), Codec().Issue(Repo, Backend + "x", LockId));
    }
}
