using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
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

    private const string Key = "SHA256E-s100--0000000000000000000000000000000000000000000000000000000000000000";

    private static readonly LockToken Token = new(
        Repo, Backend, LockId, Key, LockPrincipal.User("alice"), new DateTimeOffset(2026, 11, 30, 9, 0, 0, 123, TimeSpan.Zero));

    private static LockTokenCodec Codec(byte[]? key = null) => new(key ?? KeyBytes);

    private static bool Reads(LockTokenCodec codec, string token, string repository) =>
        codec.TryRead(token, repository, out _) == LockTokenRead.Valid;

    private static LockTokenCodec FromOptions(string? tokenKey) =>
        new(Options.Create(new AnnexEdgeOptions { Locking = new LockingOptions { TokenKey = tokenKey } }));

    [Fact]
    public void Token_reads_back_everything_it_binds()
    {
        var codec = Codec();
        Assert.Equal(LockTokenRead.Valid, codec.TryRead(codec.Issue(Token), Repo, out var read));
        Assert.Equal(Token, read);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("lock\nwith\nnewlines")]
    [InlineData("ü [x] ?&=+/\"}")]
    public void Any_backend_lockid_survives_the_round_trip(string backendLockId)
    {
        var codec = Codec();
        Assert.Equal(LockTokenRead.Valid, codec.TryRead(codec.Issue(Token with { BackendLockId = backendLockId }), Repo, out var read));
        Assert.Equal(backendLockId, read!.BackendLockId);
        Assert.Equal(Backend, read.BackendId);
    }

    [Fact]
    public void An_anonymous_principal_survives_the_round_trip()
    {
        var codec = Codec();
        var anonymous = Token with { Principal = LockPrincipal.Address(IPAddress.Parse("2001:db8::1")) };
        codec.TryRead(codec.Issue(anonymous), Repo, out var read);
        Assert.Equal(anonymous.Principal, read!.Principal);
        Assert.False(read.Principal.IsUser);
    }

    [Fact]
    public void Token_is_url_safe_and_versioned()
    {
        var token = Codec().Issue(Token);
        Assert.StartsWith("ae2.", token, StringComparison.Ordinal);
        Assert.All(token, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.', $"'{c}' is not URL safe"));
        Assert.Equal(2, token.Count(c => c == '.'));
    }

    [Fact]
    public void Each_bound_part_changes_the_token()
    {
        var codec = Codec();
        var token = codec.Issue(Token);
        Assert.NotEqual(token, codec.Issue(Token with { Key = Key.Replace('0', '1') }));
        Assert.NotEqual(token, codec.Issue(Token with { Principal = LockPrincipal.User("bob") }));
        Assert.NotEqual(token, codec.Issue(Token with { IssuedAt = Token.IssuedAt.AddMilliseconds(1) }));
        Assert.NotEqual(token, codec.Issue(Token with { BackendId = Backend + "x" }));
        Assert.Equal(token, Codec().Issue(Token));
    }

    [Fact]
    public void Any_single_character_change_is_refused()
    {
        var codec = Codec();
        var token = codec.Issue(Token);
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
                Assert.False(Reads(codec, altered, Repo), $"changing position {i} to '{replacement}' was accepted: {altered}");
            }
        }
    }

    [Fact]
    public void Removing_or_adding_a_character_is_refused()
    {
        var codec = Codec();
        var token = codec.Issue(Token);
        for (var i = 0; i < token.Length; i++)
        {
            Assert.False(Reads(codec, token.Remove(i, 1), Repo), $"removing position {i} was accepted");
            Assert.False(Reads(codec, token.Insert(i, "A"), Repo), $"inserting at {i} was accepted");
        }

        Assert.False(Reads(codec, token + "A", Repo));
    }

    [Fact]
    public void Token_for_another_repository_is_refused()
    {
        var codec = Codec();
        var token = codec.Issue(Token with { RepositoryUuid = OtherRepo });
        Assert.Equal(LockTokenRead.Refused, codec.TryRead(token, Repo, out var read));
        Assert.Null(read);
        Assert.True(Reads(codec, token, OtherRepo));
    }

    [Fact]
    public void Token_signed_with_another_key_is_refused()
    {
        var other = Codec(RandomNumberGenerator.GetBytes(32));
        Assert.Equal(LockTokenRead.Refused, Codec().TryRead(other.Issue(Token), Repo, out _));
    }

    [Fact]
    public void Token_of_the_earlier_format_is_refused_as_outdated_not_read()
    {
        // ae1: base64url(repository \n backend \n lockid) . base64url(HMAC-SHA256 of the payload alone, 16 bytes).
        var payload = Encoding.UTF8.GetBytes($"{Repo}\n{Backend}\n{LockId}");
        var mac = HMACSHA256.HashData(KeyBytes, payload).AsSpan(0, 16).ToArray();
        var old = "ae1." + Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(mac);
        Assert.Equal(LockTokenRead.Outdated, Codec().TryRead(old, Repo, out var read));
        Assert.Null(read);

        // Only this key's old tokens are called outdated; the rest are just refused.
        Assert.Equal(LockTokenRead.Refused, Codec(RandomNumberGenerator.GetBytes(32)).TryRead(old, Repo, out _));
    }

    [Fact]
    public void A_payload_signed_for_one_version_is_not_read_as_another()
    {
        var token = Codec().Issue(Token);
        Assert.Equal(LockTokenRead.Refused, Codec().TryRead("ae1." + token["ae2.".Length..], Repo, out _));
    }

    [Fact]
    public void Codecs_sharing_a_key_read_each_others_tokens()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var token = Codec(key).Issue(Token);
        Assert.Equal(LockTokenRead.Valid, Codec((byte[])key.Clone()).TryRead(token, Repo, out var read));
        Assert.Equal(Token, read);
    }

    [Fact]
    public void Codecs_configured_with_the_same_token_key_interoperate()
    {
        var tokenKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var first = FromOptions(tokenKey);
        var second = FromOptions(tokenKey);
        Assert.False(first.IsEphemeral);
        Assert.True(Reads(second, first.Issue(Token), Repo));
    }

    [Fact]
    public void Without_token_key_each_codec_has_its_own_key()
    {
        var first = FromOptions(null);
        var second = FromOptions(null);
        Assert.True(first.IsEphemeral);
        var token = first.Issue(Token);
        Assert.True(Reads(first, token, Repo));
        Assert.False(Reads(second, token, Repo));
    }

    [Theory]
    [InlineData("")]
    [InlineData("ae2.")]
    [InlineData("ae2..")]
    [InlineData("ae2.abc")]
    [InlineData("ae2.abc.def")]
    [InlineData("ae2.!!!.!!!")]
    [InlineData("ae1.abc.def")]
    [InlineData("ae3.abc.def")]
    [InlineData(LockId)]
    [InlineData("not a token")]
    public void Garbage_is_refused(string token)
    {
        Assert.Equal(LockTokenRead.Refused, Codec().TryRead(token, Repo, out var read));
        Assert.Null(read);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("\"x\"")]
    [InlineData("{\"r\":\"R\",\"b\":\"b\",\"l\":\"l\",\"k\":\"k\",\"p\":\"user:a\"}")]
    [InlineData("{\"r\":\"R\",\"b\":\"b\",\"l\":\"l\",\"k\":\"k\",\"p\":\"someone\",\"t\":1}")]
    [InlineData("{\"r\":\"R\",\"b\":\"\",\"l\":\"l\",\"k\":\"k\",\"p\":\"user:a\",\"t\":1}")]
    [InlineData("{\"r\":\"R\",\"b\":\"b\",\"l\":\"l\",\"k\":\"k\",\"p\":\"user:a\",\"t\":1e400}")]
    [InlineData("{\"r\":\"R\",\"b\":\"b\",\"l\":\"l\",\"k\":\"k\",\"p\":\"user:a\",\"t\":999999999999999999}")]
    [InlineData("not json")]
    public void Signed_payload_without_every_part_is_refused_without_throwing(string json)
    {
        // Only a holder of the key could sign these; the edge still refuses them cleanly.
        var payload = Encoding.UTF8.GetBytes(json.Replace("\"R\"", $"\"{Repo}\"", StringComparison.Ordinal));
        byte[] signed = [.. "ae2."u8.ToArray(), .. payload];
        var mac = HMACSHA256.HashData(KeyBytes, signed).AsSpan(0, 16).ToArray();
        var token = "ae2." + Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(mac);
        Assert.Equal(LockTokenRead.Refused, Codec().TryRead(token, Repo, out _));
    }

    [Fact]
    public void Overlong_token_is_refused()
    {
        var codec = Codec();
        var fits = codec.Issue(Token with { BackendLockId = new string('x', 2700) });
        Assert.True(fits.Length <= 4096);
        Assert.True(Reads(codec, fits, Repo));

        var overlong = codec.Issue(Token with { BackendLockId = new string('x', 3200) });
        Assert.True(overlong.Length > 4096);
        Assert.False(Reads(codec, overlong, Repo));
    }
}
