// Admission by credentials: the daemon's own uid, the allow-lists, and root, which may observe
// (fastmd-ipcctl status against the system service) but not serve or call methods unless
// allowed.
#include <catch2/catch.hpp>

#include "admission.hpp"

using namespace fastmd;
using daemon::AdmissionPolicy;
using daemon::admit;

namespace {

constexpr uid_t kServiceUid = 987;  // the system service's user, as a static or dynamic user

platform::PeerCredentials peer(uid_t uid, gid_t gid) {
  return {4242, uid, gid};
}

}  // namespace

TEST_CASE("root may observe a daemon of another uid, but serves or calls only when allowed") {
  const AdmissionPolicy service{kServiceUid, {}, {}};
  CHECK(admit(peer(0, 0), proto::Role::observer, {}, service));

  for (proto::Role role : {proto::Role::worker, proto::Role::client}) {
    INFO(proto::role_name(role));
    const proto::Status refused = admit(peer(0, 0), role, {}, service);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == proto::Errc::permission_denied);
    CHECK(refused.error().message.find("root is admitted without them as an observer only") !=
          std::string::npos);
  }
  const AdmissionPolicy root_allowed{kServiceUid, {0}, {}};
  CHECK(admit(peer(0, 0), proto::Role::worker, {}, root_allowed));
}

TEST_CASE("another uid may not even observe unless the allow-lists name it or its group") {
  const AdmissionPolicy service{kServiceUid, {}, {}};
  CHECK(admit(peer(kServiceUid, kServiceUid), proto::Role::worker, {}, service));
  const proto::Status refused = admit(peer(1000, 1000), proto::Role::observer, {}, service);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "uid 1000 (gid 1000) may not use this daemon, which runs as uid 987; allow it with "
        "--allow-uid or --allow-gid");
  CHECK(admit(peer(1000, 1000), proto::Role::client, {}, AdmissionPolicy{kServiceUid, {1000}, {}}));
  CHECK(admit(peer(1000, 1000), proto::Role::client, {55}, AdmissionPolicy{kServiceUid, {}, {55}}));
}
