using AnnexEdge.Security;

namespace AnnexEdge.Tests.Security;

public sealed class PasswordHashTests
{
    [Fact]
    public void A_created_hash_is_self_describing_and_verifies_only_its_password()
    {
        var encoded = PasswordHash.Create("correct horse", iterations: 1000);

        Assert.StartsWith("pbkdf2-sha256$1000$", encoded);
        var hash = PasswordHash.Parse(encoded);
        Assert.True(hash.Verify("correct horse"));
        Assert.False(hash.Verify("correct horse "));
        Assert.False(hash.Verify(""));
    }

    [Fact]
    public void Default_hashes_use_600000_iterations_and_a_fresh_salt_each_time()
    {
        var first = PasswordHash.Create("pw");
        var second = PasswordHash.Create("pw");

        Assert.Equal(600_000, PasswordHash.Parse(first).Iterations);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void A_decoy_has_the_iteration_count_it_was_made_with_and_verifies_no_password()
    {
        var decoy = PasswordHash.Decoy(1000);

        Assert.Equal(1000, decoy.Iterations);
        Assert.False(decoy.Verify(""));
        Assert.False(decoy.Verify("secret"));
    }

    [Fact]
    public void Unicode_passwords_are_hashed_as_utf8()
    {
        var hash = PasswordHash.Parse(PasswordHash.Create("pässwörd✓", iterations: 1000));
        Assert.True(hash.Verify("pässwörd✓"));
        Assert.False(hash.Verify("passwords"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("plaintext")]
    [InlineData("pbkdf2-sha1$1000$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==")]
    [InlineData("pbkdf2-sha256$x$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==")]
    [InlineData("pbkdf2-sha256$0$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==")]
    [InlineData("pbkdf2-sha256$1000$not base64$aGFzaGhhc2hoYXNoaGFzaA==")]
    [InlineData("pbkdf2-sha256$1000$c2FsdHNhbHQ=")]
    public void Malformed_hashes_do_not_parse(string encoded)
    {
        Assert.False(PasswordHash.TryParse(encoded, out _));
    }
}
