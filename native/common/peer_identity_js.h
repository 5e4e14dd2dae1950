// PeerIdentity as JS sees it: { ip?, port?, path?, pid?, uid?, gid? } (src/binding.ts, NativePeer).
#pragma once
#include <napi.h>

#include "common/peer_identity.h"

namespace crdma {

Napi::Object PeerIdentityToJs(Napi::Env env, const PeerIdentity& peer);

}  // namespace crdma
