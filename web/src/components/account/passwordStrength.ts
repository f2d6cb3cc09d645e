/**
 * A password's strength, 0 (very weak) to 4 (very strong), by zxcvbn-ts with its common
 * dictionaries (common passwords, keyboard patterns). Loaded on first use: the library and its
 * word lists are only fetched when someone types a new password.
 */
export type Strength = 0 | 1 | 2 | 3 | 4

let estimator: Promise<(password: string, userInputs: string[]) => Strength> | null = null

async function load() {
  const [{ ZxcvbnFactory }, common] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')])
  const zxcvbn = new ZxcvbnFactory({
    dictionary: { ...common.dictionary },
    graphs: common.adjacencyGraphs,
  })
  return (password: string, userInputs: string[]) => zxcvbn.check(password, userInputs).score as Strength
}

/** The strength of `password`; `userInputs` (the user name) count as guessable words. */
export async function passwordStrength(password: string, userInputs: string[] = []): Promise<Strength> {
  estimator ??= load()
  return (await estimator)(password, userInputs)
}
